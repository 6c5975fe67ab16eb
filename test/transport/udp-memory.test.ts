import { runUdpSuite } from './udp-suite.js';

runUdpSuite('the memory store', async () => ({}));
