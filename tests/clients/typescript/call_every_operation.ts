// Calls every operation of openapi/keyward-client.json on a live server, through the client that
// @hey-api/openapi-ts generated from it (in `./generated`, beside this file), and checks each answer.
//
// The server and a key that holds every scope come from the environment: KEYWARD_URL,
// KEYWARD_PROFILE_ID, KEYWARD_CLIENT_ID, KEYWARD_CLIENT_SECRET and KEYWARD_API_KEY (the full key).
// Each operation that answered as expected prints `called <operationId>`; the first that did not
// stops the script with an error.

import { createClient, createConfig } from './generated/client';
import * as keyward from './generated';

// Node's, declared here so that the script needs no type package beside TypeScript's own.
declare const process: { env: Record<string, string | undefined> };

function check(condition: unknown, message: string): asserts condition {
  if (!condition) {
    throw new Error(message);
  }
}

/** Checks that `actual` and `expected` are the same JSON. */
function same(actual: unknown, expected: unknown): void {
  const [found, wanted] = [JSON.stringify(actual), JSON.stringify(expected)];
  check(found === wanted, `${found} is not ${wanted}`);
}

const env = (name: string): string => {
  const value = process.env[name];
  check(value, `${name} is not set`);
  return value;
};
const URL = env('KEYWARD_URL');
const PROFILE_ID = env('KEYWARD_PROFILE_ID');

/** The answer to `pending`, once its status is `status`. */
async function called<R extends { data?: unknown; error?: unknown; response: Response }>(
  operationId: string,
  pending: Promise<R>,
  status: number,
): Promise<R> {
  const result = await pending;
  const body = JSON.stringify(result.data ?? result.error);
  check(result.response.status === status, `${operationId} answered ${result.response.status}, not ${status}: ${body}`);
  console.log(`called ${operationId}`);
  return result;
}

const client = (authorization?: string) =>
  createClient(createConfig({ baseUrl: URL, headers: authorization ? { Authorization: authorization } : {} }));
const anonymous = client();

let { data: health } = await called('getLiveness', keyward.getLiveness({ client: anonymous }), 200);
same(health?.status, 'UP');
({ data: health } = await called('getReadiness', keyward.getReadiness({ client: anonymous }), 200));
same(health?.status, 'UP');

const { data: jwks } = await called('getJwks', keyward.getJwks({ client: anonymous }), 200);
check(jwks && jwks.keys.length > 0 && jwks.keys.every((key) => key.kid && key.kty === 'RSA'), JSON.stringify(jwks));
const { data: discovery } = await called(
  'getOpenIdConfiguration',
  keyward.getOpenIdConfiguration({ client: anonymous }),
  200,
);
same(discovery?.token_endpoint, `${URL}/oauth/token`);
same(discovery?.jwks_uri, `${URL}/.well-known/jwks.json`);
const { data: metadata } = await called(
  'getAuthorizationServerMetadata',
  keyward.getAuthorizationServerMetadata({ client: anonymous }),
  200,
);
same(metadata?.token_endpoint, discovery?.token_endpoint);
same(metadata?.audience, discovery?.audience);

// The token endpoint's body is a form, as RFC 6749 asks.
const { data: token } = await called(
  'getToken',
  keyward.getToken({
    client: anonymous,
    body: {
      grant_type: 'client_credentials',
      client_id: env('KEYWARD_CLIENT_ID'),
      client_secret: env('KEYWARD_CLIENT_SECRET'),
    },
  }),
  200,
);
check(token && token.token_type === 'Bearer' && token.access_token && token.expires_in > 0, JSON.stringify(token));

// The HAL API with the access token, `Authorization: Bearer <token>`.
const bearer = client(`Bearer ${token.access_token}`);

const { data: profile } = await called(
  'getProfile',
  keyward.getProfile({ client: bearer, path: { id: PROFILE_ID } }),
  200,
);
same(profile?.id, PROFILE_ID);

const { data: initialised } = await called('initialiseApiKey', keyward.initialiseApiKey({ client: bearer }), 200);
check(initialised && !initialised.name, JSON.stringify(initialised));
check(initialised._links['create apikey']?.href.endsWith(`/api/apikeys/${initialised.id}`), JSON.stringify(initialised));
const path = { id: initialised.id };

const { data: created } = await called(
  'putApiKey',
  keyward.putApiKey({ client: bearer, path, body: { name: 'typescript client' } }),
  201,
);
check(created && created.id === initialised.id && created.name === 'typescript client', JSON.stringify(created));
check(created.clientId?.length === 32 && created.clientSecret, JSON.stringify(created));

const { data: renamed } = await called(
  'putApiKey',
  keyward.putApiKey({ client: bearer, path, body: { name: 'typescript client, renamed' } }),
  200,
);
check(renamed && renamed.name === 'typescript client, renamed' && !renamed.clientSecret, JSON.stringify(renamed));

const { data: viewed } = await called('getApiKey', keyward.getApiKey({ client: bearer, path }), 200);
same([viewed?.id, viewed?.name, viewed?.clientId], [initialised.id, renamed.name, created.clientId]);

const { data: page } = await called('listApiKeys', keyward.listApiKeys({ client: bearer, query: { size: 100 } }), 200);
check(page && page._embedded.apikeys.some((key) => key.name === renamed.name), JSON.stringify(page));
check(page.page.totalElements === page._embedded.apikeys.length && page.page.totalElements >= 2, JSON.stringify(page));

// The key API with the full key alone, `Authorization: <key>`.
const fullKey = client(env('KEYWARD_API_KEY'));

const { data: onboarding } = await called(
  'createKey',
  keyward.createKey({
    client: fullKey,
    body: { name: 'typescript onboarding', keyFor: 'ONBOARDING', scopes: ['keys:read'] },
  }),
  200,
);
check(onboarding && onboarding.name === 'typescript onboarding' && onboarding.for === 'ONBOARDING', JSON.stringify(onboarding));
check(onboarding.apiKey.startsWith('keyward_'), JSON.stringify(onboarding));

let { data: listed } = await called('listKeys', keyward.listKeys({ client: fullKey }), 200);
const names = new Set(listed?.map((key) => key.name));
check(names.has('typescript client, renamed') && names.has('typescript onboarding'), JSON.stringify(listed));
({ data: listed } = await called('listOnboardingKeys', keyward.listOnboardingKeys({ client: fullKey }), 200));
same(listed?.map((key) => [key.name, key.for]), [['typescript onboarding', 'ONBOARDING']]);

let { data: verified } = await called(
  'verifyKey',
  keyward.verifyKey({ client: fullKey, body: { key: onboarding.apiKey, scope: 'keys:read' } }),
  200,
);
check(verified?.valid && verified.name === 'typescript onboarding', JSON.stringify(verified));
check(verified.identifier === onboarding.identifier && verified.profileId === PROFILE_ID, JSON.stringify(verified));
same(verified.scopes, ['keys:read']);

const { data: audit } = await called('listAuditEntries', keyward.listAuditEntries({ client: fullKey }), 200);
same(audit?.slice(0, 3).map((entry) => [entry.action, entry.name]), [
  ['created', 'typescript onboarding'],
  ['renamed', 'typescript client, renamed'],
  ['created', 'typescript client'],
]);

const { data: deleted } = await called(
  'deleteKey',
  keyward.deleteKey({ client: fullKey, path: { name: 'typescript onboarding' } }),
  200,
);
same(deleted?.status, 'OK');
({ data: verified } = await called(
  'verifyKey',
  keyward.verifyKey({ client: fullKey, body: { key: onboarding.apiKey } }),
  200,
));
check(verified && !verified.valid && verified.code === 'NOT_FOUND', JSON.stringify(verified));

await called('deleteApiKey', keyward.deleteApiKey({ client: bearer, path }), 204);
const { error } = await called('getApiKey', keyward.getApiKey({ client: bearer, path }), 404);
same(error?.status, 404);
