import { runStatsJsonSuite } from './stats-json-suite.js';

// Store-dependent scenarios on the memory store; stats-http.test.ts covers the
// options (token, --stats off, --stats-peers) and request validation.
runStatsJsonSuite('the memory store', async () => ({}));
