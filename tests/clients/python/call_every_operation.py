"""Calls every operation of openapi/keyward-client.json on a live server, through the client that
openapi-python-client generated from it (the package `keyward_client`), and checks each answer.

The server and a key that holds every scope come from the environment: KEYWARD_URL,
KEYWARD_PROFILE_ID, KEYWARD_CLIENT_ID, KEYWARD_CLIENT_SECRET and KEYWARD_API_KEY (the full key).
Each operation that answered as expected prints `called <operationId>`; the first that did not
stops the script with an error.
"""

import os
from http import HTTPStatus

from keyward_client import AuthenticatedClient, Client
from keyward_client.api.apikeys import (
    delete_api_key,
    get_api_key,
    initialise_api_key,
    list_api_keys,
    put_api_key,
)
from keyward_client.api.keys import (
    create_key,
    delete_key,
    list_audit_entries,
    list_keys,
    list_onboarding_keys,
    verify_key,
)
from keyward_client.api.oauth import (
    get_authorization_server_metadata,
    get_jwks,
    get_open_id_configuration,
    get_token,
)
from keyward_client.api.operations import get_liveness, get_readiness
from keyward_client.api.profiles import get_profile
from keyward_client.models import (
    ApiKeyRequest,
    CreateKeyRequest,
    KeyType,
    Scope,
    TokenRequest,
    VerifyFailure,
    VerifyKeyRequest,
)

URL = os.environ["KEYWARD_URL"]
PROFILE_ID = os.environ["KEYWARD_PROFILE_ID"]


def called(operation_id, response, status):
    """The parsed body of `response`, once its status is `status`."""
    assert response.status_code == status, (
        f"{operation_id} answered {response.status_code}, not {status}: {response.content!r}"
    )
    print(f"called {operation_id}", flush=True)
    return response.parsed


anonymous = Client(base_url=URL, raise_on_unexpected_status=True)

health = called("getLiveness", get_liveness.sync_detailed(client=anonymous), HTTPStatus.OK)
assert health.status == "UP", health
health = called("getReadiness", get_readiness.sync_detailed(client=anonymous), HTTPStatus.OK)
assert health.status == "UP", health

jwks = called("getJwks", get_jwks.sync_detailed(client=anonymous), HTTPStatus.OK)
assert jwks.keys and all(key.kid and key.kty == "RSA" for key in jwks.keys), jwks
discovery = called(
    "getOpenIdConfiguration", get_open_id_configuration.sync_detailed(client=anonymous), HTTPStatus.OK
)
assert discovery.token_endpoint == f"{URL}/oauth/token", discovery
assert discovery.jwks_uri == f"{URL}/.well-known/jwks.json", discovery
metadata = called(
    "getAuthorizationServerMetadata",
    get_authorization_server_metadata.sync_detailed(client=anonymous),
    HTTPStatus.OK,
)
assert metadata.token_endpoint == discovery.token_endpoint, metadata
assert metadata.audience == discovery.audience, metadata

# The token endpoint's body is a form, as RFC 6749 asks.
request = TokenRequest(
    grant_type="client_credentials",
    client_id=os.environ["KEYWARD_CLIENT_ID"],
    client_secret=os.environ["KEYWARD_CLIENT_SECRET"],
)
token = called("getToken", get_token.sync_detailed(client=anonymous, body=request), HTTPStatus.OK)
assert token.token_type == "Bearer" and token.access_token and token.expires_in > 0, token

# The HAL API with the access token, `Authorization: Bearer <token>`.
bearer = AuthenticatedClient(base_url=URL, token=token.access_token, raise_on_unexpected_status=True)

profile = called("getProfile", get_profile.sync_detailed(PROFILE_ID, client=bearer), HTTPStatus.OK)
assert profile.id == PROFILE_ID, profile

initialised = called("initialiseApiKey", initialise_api_key.sync_detailed(client=bearer), HTTPStatus.OK)
assert not initialised.name and initialised.field_links.create_apikey.href.endswith(
    f"/api/apikeys/{initialised.id}"
), initialised
key_id = initialised.id

created = called(
    "putApiKey",
    put_api_key.sync_detailed(key_id, client=bearer, body=ApiKeyRequest(name="python client")),
    HTTPStatus.CREATED,
)
assert created.id == key_id and created.name == "python client", created
assert len(created.client_id) == 32 and created.client_secret, created

renamed = called(
    "putApiKey",
    put_api_key.sync_detailed(key_id, client=bearer, body=ApiKeyRequest(name="python client, renamed")),
    HTTPStatus.OK,
)
assert renamed.name == "python client, renamed" and not renamed.client_secret, renamed

viewed = called("getApiKey", get_api_key.sync_detailed(key_id, client=bearer), HTTPStatus.OK)
assert (viewed.id, viewed.name, viewed.client_id) == (key_id, renamed.name, created.client_id), viewed

page = called("listApiKeys", list_api_keys.sync_detailed(client=bearer, size=100), HTTPStatus.OK)
assert renamed.name in [key.name for key in page.field_embedded.apikeys], page
assert page.page.total_elements == len(page.field_embedded.apikeys) >= 2, page

# The key API with the full key alone, `Authorization: <key>`.
full_key = AuthenticatedClient(
    base_url=URL, token=os.environ["KEYWARD_API_KEY"], prefix="", raise_on_unexpected_status=True
)

onboarding = called(
    "createKey",
    create_key.sync_detailed(
        client=full_key,
        body=CreateKeyRequest(name="python onboarding", key_for=KeyType.ONBOARDING, scopes=[Scope.KEYSREAD]),
    ),
    HTTPStatus.OK,
)
assert onboarding.name == "python onboarding" and onboarding.for_ == KeyType.ONBOARDING, onboarding
assert onboarding.api_key.startswith("keyward_"), onboarding

listed = called("listKeys", list_keys.sync_detailed(client=full_key), HTTPStatus.OK)
assert {"python client, renamed", "python onboarding"} <= {key.name for key in listed}, listed
listed = called("listOnboardingKeys", list_onboarding_keys.sync_detailed(client=full_key), HTTPStatus.OK)
assert [(key.name, key.for_) for key in listed] == [("python onboarding", KeyType.ONBOARDING)], listed

verified = called(
    "verifyKey",
    verify_key.sync_detailed(
        client=full_key, body=VerifyKeyRequest(key=onboarding.api_key, scope=Scope.KEYSREAD)
    ),
    HTTPStatus.OK,
)
assert verified.valid and verified.name == "python onboarding", verified
assert verified.identifier == onboarding.identifier and verified.profile_id == PROFILE_ID, verified
assert verified.scopes == [Scope.KEYSREAD], verified

audit = called("listAuditEntries", list_audit_entries.sync_detailed(client=full_key), HTTPStatus.OK)
assert [(entry.action, entry.name) for entry in audit[:3]] == [
    ("created", "python onboarding"),
    ("renamed", "python client, renamed"),
    ("created", "python client"),
], audit

deleted = called(
    "deleteKey", delete_key.sync_detailed("python onboarding", client=full_key), HTTPStatus.OK
)
assert deleted.status == "OK", deleted
verified = called(
    "verifyKey",
    verify_key.sync_detailed(client=full_key, body=VerifyKeyRequest(key=onboarding.api_key)),
    HTTPStatus.OK,
)
assert not verified.valid and verified.code == VerifyFailure.NOT_FOUND, verified

called("deleteApiKey", delete_api_key.sync_detailed(key_id, client=bearer), HTTPStatus.NO_CONTENT)
error = called("getApiKey", get_api_key.sync_detailed(key_id, client=bearer), HTTPStatus.NOT_FOUND)
assert error.status == 404, error
