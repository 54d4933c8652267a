from django.contrib.auth.models import User
from django.core.management.base import BaseCommand

import django_edgecache
from blog.models import Post


class Command(BaseCommand):
    help = "Creates a few posts and an admin user (admin / admin) if the blog is empty."

    def handle(self, *args, **options):
        if not User.objects.filter(username="admin").exists():
            User.objects.create_superuser("admin", "admin@example.com", "admin")
        if not Post.objects.exists():
            # Nothing is stored at the edge yet (and the worker may not be up): no purges.
            with django_edgecache.paused():
                self.create()
        self.stdout.write("demo data ready: admin / admin")

    def create(self):
        for i, (title, category) in enumerate([("Hello, edge", "news"), ("Caching pages", "howto"), ("Purging on save", "howto")]):
            Post.objects.create(title=title, slug=f"post-{i + 1}", body=f"{title}: body.", category=category)
