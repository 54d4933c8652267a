from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils.decorators import method_decorator
from django.views.decorators.cache import cache_page
from django.views.generic import DetailView, TemplateView

import django_edgecache as edgecache
from django_edgecache import EdgeCacheMixin, edge_cache, never_edge_cache

from .models import Post, Tag


@edge_cache(ttl=300, tags=[Post])
def post_list(request):
    return render(request, "blog/list.html", {"posts": Post.objects.order_by("pk")})


@edge_cache(ttl=300)
def post_detail(request, pk):
    post = get_object_or_404(Post, pk=pk)
    edgecache.tag(post)
    return render(request, "blog/detail.html", {"post": post})


@edge_cache(ttl=300)
def tag_detail(request, pk):
    tag = get_object_or_404(Tag, pk=pk)
    posts = list(tag.posts.order_by("pk"))
    edgecache.tag(tag, *posts)
    return HttpResponse(f"<h1>{tag.pk}</h1>" + "".join(f"<p>{p.title}</p>" for p in posts))


class PostDetailView(EdgeCacheMixin, DetailView):
    """No edgecache.tag(): EDGECACHE['AUTO_TAG'] tags what get_object loads."""

    model = Post
    template_name = "blog/detail.html"
    edge_ttl = 120


@method_decorator(edge_cache(ttl=60, tags=["about"], vary_headers=["Accept-Language"]), name="dispatch")
class AboutView(TemplateView):
    template_name = "blog/about.html"


@edge_cache(ttl=300)
def hello(request):
    """Reads the session: Django adds Vary: Cookie."""
    name = request.user.username if request.user.is_authenticated else "guest"
    return HttpResponse(f"hello {name}")


def plain(request):
    """Undecorated: the worker's site-wide rules decide."""
    return HttpResponse("plain page")


@never_edge_cache
def never(request):
    return HttpResponse("never at the edge")


@login_required
@never_edge_cache
def account(request):
    return HttpResponse(f"account of {request.user.username}")


@edge_cache(ttl=300)
def contact(request):
    if request.method == "POST":
        return HttpResponse(f"thanks {request.POST.get('name', '')}")
    return render(request, "blog/contact.html")


@edge_cache(ttl=300, esi=True, esi_includes=["/fragments/**"])
def esi_page(request, name):
    return render(request, "blog/esi_page.html", {"name": name})


@edge_cache(ttl=600, tags=[Post])
def sidebar(request):
    return render(request, "blog/sidebar.html", {"posts": Post.objects.order_by("-pk")[:3]})


@edge_cache(ttl=60)
@cache_page(60, cache="pages")
def both_caches(request):
    return HttpResponse("cached twice")
