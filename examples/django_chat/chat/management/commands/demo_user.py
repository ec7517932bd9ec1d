"""``manage.py demo_user [--username demo] [--password demo]``: make sure a staff user exists
with that password (the demo login of the example; staff may post system messages)."""

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Create (or reset the password of) the example's demo user, a staff member."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--username", default="demo")
        parser.add_argument("--password", default="demo")

    def handle(self, *args: Any, **options: Any) -> None:
        user, created = get_user_model().objects.get_or_create(username=options["username"])
        user.is_staff = True
        user.set_password(options["password"])
        user.save()
        verb = "created" if created else "updated"
        self.stdout.write(f"demo user {user.username!r} {verb} (password {options['password']!r})")
