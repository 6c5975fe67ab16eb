import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TrackerCore } from '../core/tracker.js';
import { StoreError } from '../errors.js';
import { ErrorOnce, type Logger, stderrLogger } from '../logging/logger.js';
import { isPasskey } from '../protocol/passkey.js';
import { StatsAuth } from '../stats/stats-auth.js';
import type { HttpRoute } from '../transport/http/http-transport.js';
import { sendJson } from '../transport/http/responses.js';

/** Accounts per page of `GET /accounts.json` (`count` may ask for fewer or more, up to MAX_PAGE). */
const DEFAULT_PAGE = 1000;
const MAX_PAGE = 10_000;

/**
 * `GET /accounts.json`: a private tracker's per-passkey accounting, for the
 * operator (and the members' web application) only. It needs the stats token
 * (`Authorization: Bearer <token>` or `?token=`), which `--private` requires.
 * Passkeys are secrets: they appear here and nowhere public (not in the stats,
 * not in logs).
 *
 * - `?passkey=K` (repeatable): those accounts.
 * - otherwise every member's, a page at a time: `?cursor=C&count=N`, starting
 *   at cursor 0; the reply's `cursor` is "0" after the last page.
 */
export function accountsRoute(core: TrackerCore, token: string, logger: Logger = stderrLogger): HttpRoute {
  const auth = new StatsAuth(token);
  const errors = new ErrorOnce(logger);
  return (req, res, path, query) => {
    if (path !== '/accounts.json') return false;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      sendJson(req, res, 405, { error: 'GET or HEAD' }, { Allow: 'GET, HEAD' });
      return true;
    }
    const params = new URLSearchParams(query);
    // Without a configured token nothing is served: accounts are never public.
    if (!auth.required || !auth.allows(StatsAuth.presented(req, params))) {
      sendJson(req, res, 401, { error: 'token required' }, { 'WWW-Authenticate': 'Bearer' });
      return true;
    }
    void answer(core, req, res, params, errors);
    return true;
  };
}

async function answer(
  core: TrackerCore,
  req: IncomingMessage,
  res: ServerResponse,
  params: URLSearchParams,
  errors: ErrorOnce,
) {
  try {
    const asked = params.getAll('passkey');
    if (asked.length > 0) {
      if (asked.length > MAX_PAGE || !asked.every(isPasskey)) {
        return sendJson(req, res, 400, { error: `passkey: up to ${MAX_PAGE} well-formed passkeys` });
      }
      return sendJson(req, res, 200, { accounts: await core.accounts(asked) });
    }
    const count = Math.min(MAX_PAGE, Math.max(1, Number(params.get('count')) || DEFAULT_PAGE));
    const page = await core.passkeys.list(params.get('cursor') ?? '0', count);
    sendJson(req, res, 200, { accounts: await core.accounts(page.passkeys), cursor: page.cursor });
  } catch (err) {
    if (err instanceof StoreError) return sendJson(req, res, 503, { error: err.message }, { 'Retry-After': '60' });
    errors.error('accounts', err, 'internal error (/accounts.json)');
    sendJson(req, res, 500, { error: 'internal error' });
  }
}
