from django.db import models

import django_edgecache


class Tag(models.Model):
    name = models.CharField(max_length=2100)

    def __str__(self) -> str:
        return self.name


class Post(models.Model):
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    # Free text from editors: commas, spaces, non-ASCII, 2,000 characters.
    category = models.CharField(max_length=2100, blank=True)
    tags = models.ManyToManyField(Tag, blank=True, related_name="posts")

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return f"/posts/{self.pk}/"

    def edgecache_tags(self) -> list[str]:
        return [f"category:{self.category}"] if self.category else []


django_edgecache.register(Post)
django_edgecache.register(Tag)
