"""The chat's pages: the rooms list, a room (socket.io-client 0.9.16, as in gevent-socketio's
example, or 4.x on the modern page), and the view that posts a system message into a room
through tornio's Emitter."""

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.text import slugify
from django.views.decorators.http import require_POST

from chat.models import ChatRoom
from tornio.contrib.django import get_emitter


def rooms(request: HttpRequest) -> HttpResponse:
    """The home page: every room, and a form to add one."""
    return render(request, "chat/rooms.html", {"rooms": ChatRoom.objects.all()})


@require_POST
def create(request: HttpRequest) -> HttpResponse:
    """The "add a room" form: go to the room of that name, made if it is new."""
    name = request.POST.get("name", "").strip()[:40]
    slug = slugify(name)
    if not slug:
        return redirect("rooms")
    room, _ = ChatRoom.objects.get_or_create(slug=slug, defaults={"name": name})
    return redirect(room)


def room(request: HttpRequest, slug: str) -> HttpResponse:
    """A room, on socket.io-client 0.9.16 (static/js/chat.js)."""
    return render(request, "chat/room.html", {"room": get_object_or_404(ChatRoom, slug=slug)})


def room_modern(request: HttpRequest, slug: str) -> HttpResponse:
    """The same room on socket.io-client 4.x (static/js/chat-modern.js)."""
    context = {"room": get_object_or_404(ChatRoom, slug=slug), "modern": True}
    return render(request, "chat/room.html", context)


@require_POST
def system_message(request: HttpRequest, slug: str) -> JsonResponse:
    """Post a system message to everyone in the room, whichever worker process holds their
    socket: the Emitter publishes it on tornio's bus. Staff only."""
    if not request.user.is_staff:
        return JsonResponse({"error": "staff only"}, status=403)
    room = get_object_or_404(ChatRoom, slug=slug)
    text = request.POST.get("text", "").strip()[:500]
    if not text:
        return JsonResponse({"error": "say something"}, status=400)
    get_emitter().of("/chat").to(room.slug).emit("system_message", text)
    return JsonResponse({"sent": text})
