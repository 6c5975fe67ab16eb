import { runHttpSuite } from './http-suite.js';

runHttpSuite('the memory store', async () => ({}));
