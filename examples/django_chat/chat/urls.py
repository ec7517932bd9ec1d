from django.urls import path

from chat import views

urlpatterns = [
    path("", views.rooms, name="rooms"),
    path("create/", views.create, name="create"),
    path("rooms/<slug:slug>/", views.room, name="room"),
    path("rooms/<slug:slug>/modern/", views.room_modern, name="room_modern"),
    path("rooms/<slug:slug>/system-message/", views.system_message, name="system_message"),
]
