from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.generic import DetailView

import django_edgecache as edgecache
from django_edgecache import EdgeCacheMixin, edge_cache, never_edge_cache

from .models import Post

# Pages may include the sidebar as an ESI fragment; it has its own lifetime and tags.
PAGES = {"esi": True, "esi_includes": ["/fragments/**"]}


@edge_cache(ttl=300, tags=[Post], **PAGES)
def post_list(request):
    return render(request, "blog/list.html", {"posts": Post.objects.all()[:20]})


class PostDetail(EdgeCacheMixin, DetailView):
    # AUTO_TAG (settings) tags the page with the post get_object() loads.
    model = Post
    edge_ttl = 3600
    edge_esi = True
    edge_esi_includes = ("/fragments/**",)


@edge_cache(ttl=300, **PAGES)
def category(request, name):
    edgecache.tag(f"category:{name}")
    posts = Post.objects.filter(category=name)
    return render(request, "blog/list.html", {"posts": posts, "category": name})


@edge_cache(ttl=600, tags=[Post])
def sidebar(request):
    return render(request, "blog/sidebar.html", {"latest": Post.objects.all()[:5]})


@edge_cache(ttl=3600)
def contact(request):
    if request.method == "POST":
        return HttpResponse(f"Thank you, {request.POST.get('name', '')}.")
    return render(request, "blog/contact.html")


@login_required
@never_edge_cache
def account(request):
    return render(request, "blog/account.html")
