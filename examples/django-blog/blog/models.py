from django.db import models
from django.urls import reverse

import django_edgecache


class Post(models.Model):
    title = models.CharField(max_length=200)
    slug = models.SlugField(unique=True, allow_unicode=True)
    body = models.TextField()
    category = models.CharField(max_length=100, blank=True)
    published = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-published"]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("post-detail", args=[self.slug])

    def edgecache_tags(self) -> list[str]:
        # Pages that list a category are tagged with it (see views.category).
        return [f"category:{self.category}"] if self.category else []


# Saving, deleting or relating a post purges every page tagged with it, after commit.
django_edgecache.register(Post)
