"""The rooms people chat in (gevent-socketio's ChatRoom, on today's Django)."""

from typing import Any

from django.db import models
from django.urls import reverse
from django.utils.text import slugify


class ChatRoom(models.Model):
    name = models.CharField(max_length=40)
    slug = models.SlugField(max_length=40, unique=True)

    class Meta:
        ordering = ("name",)

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("room", args=[self.slug])

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self.slug:
            self.slug = slugify(self.name)
        super().save(*args, **kwargs)
