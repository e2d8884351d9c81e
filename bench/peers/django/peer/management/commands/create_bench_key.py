from django.core.management.base import BaseCommand
from rest_framework_api_key.models import APIKey


class Command(BaseCommand):
    help = "Creates an API key and prints it: the only time the key is ever shown."

    def add_arguments(self, parser):
        parser.add_argument("--name", default="benchmark")

    def handle(self, *args, name, **options):
        _, key = APIKey.objects.create_key(name=name)
        self.stdout.write(key)
