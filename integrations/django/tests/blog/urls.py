from django.urls import path

from . import views

urlpatterns = [
    path("", views.post_list, name="post-list"),
    path("posts/<int:pk>/", views.post_detail, name="post-detail"),
    path("tags/<int:pk>/", views.tag_detail, name="tag-detail"),
    path("cbv/posts/<int:pk>/", views.PostDetailView.as_view(), name="post-cbv"),
    path("about/", views.AboutView.as_view(), name="about"),
    path("plain/", views.plain),
    path("hello/", views.hello),
    path("never/", views.never),
    path("account/", views.account),
    path("contact/", views.contact, name="contact"),
    path("pages/<slug:name>/", views.esi_page, name="esi-page"),
    path("fragments/sidebar/", views.sidebar, name="sidebar"),
    path("both/", views.both_caches),
]
