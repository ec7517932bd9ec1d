from typing import Any

from django.db import migrations, models


def create_lobby(apps: Any, schema_editor: Any) -> None:
    apps.get_model("chat", "ChatRoom").objects.get_or_create(slug="lobby", name="Lobby")


class Migration(migrations.Migration):
    initial = True
    dependencies: list[tuple[str, str]] = []

    operations = [
        migrations.CreateModel(
            name="ChatRoom",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("name", models.CharField(max_length=40)),
                ("slug", models.SlugField(max_length=40, unique=True)),
            ],
            options={"ordering": ("name",)},
        ),
        migrations.RunPython(create_lobby, migrations.RunPython.noop),
    ]
