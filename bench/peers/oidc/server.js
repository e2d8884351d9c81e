// panva's oidc-provider as an OAuth 2.0 authorization server for one confidential client that
// takes client-credentials grants and receives RS256 JWT access tokens.
//
//   npm ci && CLIENT_ID=... CLIENT_SECRET=... PORT=3000 NODE_ENV=production node server.js
//
// oidc-provider 9 supports Node.js 22 LTS and later, and warns at start on older ones.
//
// Node's cluster module runs WORKERS (default 2) processes sharing the port. The primary makes
// the signing key and hands it to every worker, so that all of them sign with the same key and
// publish the same JWKS.

import cluster from 'node:cluster';
import { generateKeyPairSync, randomBytes } from 'node:crypto';

const port = Number(process.env.PORT ?? 3000);
const workers = Number(process.env.WORKERS ?? 2);
// The API the tokens are for: an access token is a JWT only when issued for a resource server.
const resource = process.env.RESOURCE ?? 'urn:keyward:bench';

if (cluster.isPrimary) {
  const clientId = process.env.CLIENT_ID;
  const clientSecret = process.env.CLIENT_SECRET;
  if (!clientId || !clientSecret) {
    console.error('CLIENT_ID and CLIENT_SECRET must be set');
    process.exit(2);
  }
  // RSA 2048, the size Keyward signs with.
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = {
    ...privateKey.export({ format: 'jwk' }), kid: randomBytes(8).toString('hex'), alg: 'RS256', use: 'sig',
  };
  const env = { SIGNING_JWK: JSON.stringify(jwk), COOKIE_KEY: randomBytes(32).toString('base64url') };
  for (let i = 0; i < workers; i += 1) {
    cluster.fork(env);
  }
  let live = workers;
  let stopping = false;
  const stop = (code) => {
    process.exitCode ??= code;
    stopping = true;
    for (const worker of Object.values(cluster.workers)) worker.process.kill('SIGTERM');
  };
  process.on('SIGTERM', () => stop(0));
  process.on('SIGINT', () => stop(0));
  cluster.on('exit', (worker, code, signal) => {
    live -= 1;
    // A dead worker is a broken benchmark: stop rather than measure with fewer workers.
    if (!stopping) {
      console.error(`worker ${worker.process.pid} exited (${signal ?? code}), stopping`);
      stop(1);
    }
    if (live === 0) process.exit();
  });
} else {
  const { default: Provider, errors } = await import('oidc-provider');

  const provider = new Provider(`http://127.0.0.1:${port}`, {
    clients: [
      {
        client_id: process.env.CLIENT_ID,
        client_secret: process.env.CLIENT_SECRET,
        grant_types: ['client_credentials'],
        response_types: [],
        redirect_uris: [],
        token_endpoint_auth_method: 'client_secret_basic',
      },
    ],
    jwks: { keys: [JSON.parse(process.env.SIGNING_JWK)] },
    cookies: { keys: [process.env.COOKIE_KEY] },
    features: {
      clientCredentials: { enabled: true },
      devInteractions: { enabled: false },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => resource,
        getResourceServerInfo: (ctx, indicator) => {
          if (indicator !== resource) throw new errors.InvalidTarget();
          return { scope: '', audience: resource, accessTokenFormat: 'jwt', jwt: { sign: { alg: 'RS256' } } };
        },
      },
    },
    ttl: { ClientCredentials: 3600 },
  });
  provider.listen(port, '127.0.0.1');
}
