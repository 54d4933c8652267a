from django.urls import path

from . import views

urlpatterns = [
    path("", views.post_list, name="post-list"),
    path("posts/<str:slug>/", views.PostDetail.as_view(), name="post-detail"),
    path("category/<str:name>/", views.category, name="category"),
    path("fragments/sidebar/", views.sidebar, name="sidebar"),
    path("contact/", views.contact, name="contact"),
    path("account/", views.account, name="account"),
]
