from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_api_key.permissions import HasAPIKey


class Profile(APIView):
    """The caller's profile, for any valid API key.

    `HasAPIKey` answers only whether the key is valid, so the body is fixed: loading the key again
    to describe it would double the database work of every request.
    """

    permission_classes = [HasAPIKey]

    def get(self, request):
        return Response({"id": "bench", "name": "benchmark"})
