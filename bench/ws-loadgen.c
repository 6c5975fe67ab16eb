/*
 * BitStorm bench: WebSocket (WebTorrent) tracker load generator.
 *
 * Why C: the tracker does JSON and WebSocket framing for every message, and so
 * does a client. bench/ws-loadgen.ts (Node, the same `ws` library the trackers
 * use) spends about as much CPU per announce as the tracker it loads, so on a
 * 2-core machine the two share the cores and the rate measures both. Here one
 * epoll loop frames, masks and scans the messages without a JSON parser.
 *
 * Every socket is one leecher of torrent (socket mod torrents) with its own
 * random peer_id and keeps `window` announces in flight: each reply (an
 * announce reply carries "interval") sends the next announce. Every announce
 * carries `offers` WebRTC offers (a ~500-byte SDP, a random 20-byte offer_id)
 * that the tracker relays to other sockets of the torrent; every offer a
 * socket receives is answered (to_peer_id = the offerer, the same offer_id),
 * and the tracker relays the answer back. No reply to an answer is expected.
 *
 * Ids are latin1 "binary strings" as WebTorrent sends them: bytes ≥ 0x80 are
 * UTF-8 in the JSON text, control bytes \u00XX. The answer copies the
 * received peer_id and offer_id JSON strings verbatim.
 *
 * Client frames are masked with a fresh key per frame, as RFC 6455 requires.
 *
 * Build: gcc -O2 -o ws-loadgen ws-loadgen.c (bench/ws-bench.ts does it).
 * Usage: ws-loadgen --port P [--host 127.0.0.1] [--path /announce]
 *          [--sockets 200] [--torrents 50] [--window 1] [--offers 5]
 *          [--warmup 2] [--duration 10] [--max N] [--seed 1]
 * Bounded by --duration (measured seconds after --warmup) and, if given, --max
 * measured announce replies. Prints "START" and "END" around the measured
 * window (the bench samples /proc CPU counters on them), then one JSON line.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* A data-channel offer as Chromium writes it (simple-peer), one host candidate: 516 bytes. */
static const char SDP[] =
    "v=0\\r\\no=- 4611731400430051336 2 IN IP4 127.0.0.1\\r\\ns=-\\r\\nt=0 0\\r\\na=group:BUNDLE 0\\r\\n"
    "a=extmap-allow-mixed\\r\\na=msid-semantic: WMS\\r\\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\\r\\n"
    "c=IN IP4 0.0.0.0\\r\\na=ice-ufrag:Xk3f\\r\\na=ice-pwd:Hq2b7Yw9cN1pLr4sTu6vZx8a\\r\\na=ice-options:trickle\\r\\n"
    "a=candidate:1 1 udp 2113937151 192.0.2.10 50000 typ host\\r\\n"
    "a=fingerprint:sha-256 3C:5F:9A:12:7B:E4:08:D1:6C:2E:A9:43:F0:1B:87:5D:C6:39:E2:4A:91:0F:7D:B8:26:"
    "5E:A3:C4:18:F9:60:2D\\r\\na=setup:actpass\\r\\na=mid:0\\r\\na=sctp-port:5000\\r\\na=max-message-size:262144\\r\\n";

enum { S_CONNECTING, S_HANDSHAKE, S_OPEN, S_CLOSED };

typedef struct {
  uint8_t *p;
  size_t len, cap;
} buf_t;

typedef struct {
  int fd;
  int state;
  int want_out; /* EPOLLOUT registered */
  int outstanding;
  char peer_json[128]; /* JSON string tokens, quotes included */
  size_t peer_json_len;
  const char *hash_json;
  size_t hash_json_len;
  buf_t in, out;
  int64_t *sent_at; /* ring of `window` send times, for latency */
  int ring_head, ring_len;
} conn_t;

static const char *host = "127.0.0.1";
static const char *path = "/announce";
static int port;
static int n_sockets = 200, n_torrents = 50, window_ = 1, n_offers = 5;
static double warmup = 2, duration = 10;
static uint64_t max_announces;
static uint64_t rng = 0x9E3779B97F4A7C15ull;

static conn_t *conns;
static char **hash_json;
static size_t *hash_json_len;
static int epfd;
static int measuring, stopping;

static uint64_t announces, offers_received, answers_received, answers_sent, failures, closed_sockets, other_messages,
    connect_errors, bad_frames;
static char first_error[240];
static uint32_t *lat;
static size_t lat_len, lat_cap;

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static uint64_t rnd(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return rng;
}

static void note_error(const char *what, const uint8_t *detail, size_t len) {
  if (first_error[0]) return;
  size_t n = snprintf(first_error, sizeof first_error, "%s", what);
  for (size_t i = 0; i < len && n + 1 < sizeof first_error; i++)
    first_error[n++] = detail[i] >= 0x20 && detail[i] < 0x7f && detail[i] != '"' && detail[i] != '\\' ? detail[i] : '?';
  first_error[n] = 0;
}

static void reserve(buf_t *b, size_t extra) {
  if (b->len + extra <= b->cap) return;
  size_t cap = b->cap ? b->cap : 4096;
  while (cap < b->len + extra) cap *= 2;
  b->p = realloc(b->p, cap);
  if (!b->p) {
    perror("realloc");
    exit(1);
  }
  b->cap = cap;
}

static void put(buf_t *b, const void *p, size_t n) {
  reserve(b, n);
  memcpy(b->p + b->len, p, n);
  b->len += n;
}
#define PUTS(b, s) put((b), (s), sizeof(s) - 1)

/* A latin1 binary string as a JSON string token (what JSON.stringify writes for it). */
static size_t json_binary(const uint8_t *bytes, size_t n, char *out) {
  size_t o = 0;
  out[o++] = '"';
  for (size_t i = 0; i < n; i++) {
    uint8_t c = bytes[i];
    if (c == '"' || c == '\\') {
      out[o++] = '\\';
      out[o++] = (char)c;
    } else if (c < 0x20) {
      o += (size_t)sprintf(out + o, "\\u%04x", c);
    } else if (c < 0x80) {
      out[o++] = (char)c;
    } else {
      out[o++] = (char)(0xC0 | (c >> 6));
      out[o++] = (char)(0x80 | (c & 0x3F));
    }
  }
  out[o++] = '"';
  return o;
}

static void random_id_json(char *out, size_t *len) {
  uint8_t id[20];
  for (int i = 0; i < 20; i += 4) {
    uint32_t r = (uint32_t)rnd();
    memcpy(id + i, &r, 4);
  }
  *len = json_binary(id, 20, out);
}

/* ---------- framing ---------- */

static buf_t scratch; /* one message being built */

/* Appends `scratch` to the connection's output as one masked text frame. */
static void send_frame(conn_t *c, uint8_t opcode) {
  size_t n = scratch.len;
  uint8_t hdr[14];
  size_t h = 0;
  hdr[h++] = 0x80 | opcode;
  if (n < 126) hdr[h++] = 0x80 | (uint8_t)n;
  else if (n < 65536) {
    hdr[h++] = 0x80 | 126;
    hdr[h++] = (uint8_t)(n >> 8);
    hdr[h++] = (uint8_t)n;
  } else {
    hdr[h++] = 0x80 | 127;
    for (int i = 7; i >= 0; i--) hdr[h++] = (uint8_t)((uint64_t)n >> (8 * i));
  }
  uint32_t key = (uint32_t)rnd();
  memcpy(hdr + h, &key, 4);
  h += 4;
  put(&c->out, hdr, h);
  reserve(&c->out, n);
  uint8_t *dst = c->out.p + c->out.len;
  const uint8_t *src = scratch.p;
  uint64_t key8 = (uint64_t)key | ((uint64_t)key << 32);
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t v;
    memcpy(&v, src + i, 8);
    v ^= key8;
    memcpy(dst + i, &v, 8);
  }
  const uint8_t *k = (const uint8_t *)&key;
  for (; i < n; i++) dst[i] = src[i] ^ k[i & 3];
  c->out.len += n;
  scratch.len = 0;
}

static void flush(conn_t *c) {
  size_t off = 0;
  while (off < c->out.len) {
    ssize_t w = send(c->fd, c->out.p + off, c->out.len - off, MSG_NOSIGNAL);
    if (w > 0) {
      off += (size_t)w;
      continue;
    }
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    return; /* the read side sees the reset */
  }
  memmove(c->out.p, c->out.p + off, c->out.len - off);
  c->out.len -= off;
  int want = c->out.len > 0;
  if (want != c->want_out) {
    struct epoll_event ev = {.events = EPOLLIN | (want ? EPOLLOUT : 0), .data.u32 = (uint32_t)(c - conns)};
    epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
    c->want_out = want;
  }
}

static void send_announce(conn_t *c) {
  char num[64];
  PUTS(&scratch, "{\"action\":\"announce\",\"info_hash\":");
  put(&scratch, c->hash_json, c->hash_json_len);
  PUTS(&scratch, ",\"peer_id\":");
  put(&scratch, c->peer_json, c->peer_json_len);
  put(&scratch, num, (size_t)snprintf(num, sizeof num, ",\"numwant\":%d", n_offers));
  PUTS(&scratch, ",\"uploaded\":0,\"downloaded\":0,\"left\":1000,\"offers\":[");
  for (int i = 0; i < n_offers; i++) {
    char id[128];
    size_t id_len;
    random_id_json(id, &id_len);
    if (i) PUTS(&scratch, ",");
    PUTS(&scratch, "{\"offer\":{\"type\":\"offer\",\"sdp\":\"");
    PUTS(&scratch, SDP);
    PUTS(&scratch, "\"},\"offer_id\":");
    put(&scratch, id, id_len);
    PUTS(&scratch, "}");
  }
  PUTS(&scratch, "]}");
  send_frame(c, 1);
  int slot = (c->ring_head + c->ring_len) % window_;
  c->sent_at[slot] = now_ns();
  c->ring_len++;
  c->outstanding++;
}

/* The JSON string token after `"key":` (quotes included), or NULL. */
static const uint8_t *string_after(const uint8_t *m, size_t n, const char *key, size_t *len) {
  size_t kl = strlen(key);
  const uint8_t *k = memmem(m, n, key, kl);
  if (!k) return NULL;
  const uint8_t *s = k + kl;
  const uint8_t *end = m + n;
  if (s >= end || *s != '"') return NULL;
  for (const uint8_t *p = s + 1; p < end; p++) {
    if (*p == '\\') p++;
    else if (*p == '"') {
      *len = (size_t)(p + 1 - s);
      return s;
    }
  }
  return NULL;
}

#define HAS(m, n, lit) (memmem((m), (n), (lit), sizeof(lit) - 1) != NULL)

static void on_reply(conn_t *c) {
  if (c->outstanding == 0) return;
  c->outstanding--;
  if (c->ring_len > 0) {
    int64_t sent = c->sent_at[c->ring_head];
    c->ring_head = (c->ring_head + 1) % window_;
    c->ring_len--;
    if (measuring) {
      if (lat_len == lat_cap) {
        lat_cap = lat_cap ? lat_cap * 2 : 1 << 16;
        lat = realloc(lat, lat_cap * sizeof *lat);
      }
      uint64_t us = (uint64_t)(now_ns() - sent) / 1000;
      lat[lat_len++] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
    }
  }
  if (!stopping) send_announce(c);
}

static void on_message(conn_t *c, const uint8_t *m, size_t n) {
  if (HAS(m, n, "\"failure reason\"")) {
    failures++;
    note_error("failure: ", m, n < 200 ? n : 200);
    /* A refused announce ends like a reply: keep the window full. */
    if (!HAS(m, n, "\"answer\":") && !HAS(m, n, "\"offer\":")) on_reply(c);
    return;
  }
  if (HAS(m, n, "\"offer\":")) {
    size_t pl, ol;
    const uint8_t *from = string_after(m, n, "\"peer_id\":", &pl);
    const uint8_t *oid = string_after(m, n, "\"offer_id\":", &ol);
    if (!from || !oid) {
      bad_frames++;
      note_error("offer without peer_id/offer_id: ", m, n < 200 ? n : 200);
      return;
    }
    if (measuring) offers_received++;
    PUTS(&scratch, "{\"action\":\"announce\",\"info_hash\":");
    put(&scratch, c->hash_json, c->hash_json_len);
    PUTS(&scratch, ",\"peer_id\":");
    put(&scratch, c->peer_json, c->peer_json_len);
    PUTS(&scratch, ",\"to_peer_id\":");
    put(&scratch, from, pl);
    PUTS(&scratch, ",\"offer_id\":");
    put(&scratch, oid, ol);
    PUTS(&scratch, ",\"answer\":{\"type\":\"answer\",\"sdp\":\"");
    PUTS(&scratch, SDP);
    PUTS(&scratch, "\"}}");
    send_frame(c, 1);
    if (measuring) answers_sent++;
    return;
  }
  if (HAS(m, n, "\"answer\":")) {
    if (measuring) answers_received++;
    return;
  }
  if (HAS(m, n, "\"interval\":")) {
    if (measuring) announces++;
    on_reply(c);
    return;
  }
  other_messages++;
}

static void close_conn(conn_t *c, const char *why) {
  if (c->state == S_CLOSED) return;
  if (!stopping) {
    closed_sockets++;
    note_error(why, NULL, 0);
  }
  epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
  close(c->fd);
  c->state = S_CLOSED;
}

/* Parses whole frames from c->in; returns 0 when the socket was closed. */
static int parse_frames(conn_t *c) {
  size_t off = 0;
  while (c->in.len - off >= 2) {
    uint8_t *f = c->in.p + off;
    size_t avail = c->in.len - off;
    uint8_t op = f[0] & 0x0F;
    uint64_t n = f[1] & 0x7F;
    size_t h = 2;
    if (f[1] & 0x80) {
      close_conn(c, "masked frame from the server");
      return 0;
    }
    if (n == 126) {
      if (avail < 4) break;
      n = ((uint64_t)f[2] << 8) | f[3];
      h = 4;
    } else if (n == 127) {
      if (avail < 10) break;
      n = 0;
      for (int i = 0; i < 8; i++) n = (n << 8) | f[2 + i];
      h = 10;
    }
    if (avail < h + n) break;
    uint8_t *payload = f + h;
    if (!(f[0] & 0x80)) {
      bad_frames++; /* servers here never fragment a message */
      note_error("fragmented frame", NULL, 0);
    } else if (op == 1) {
      on_message(c, payload, (size_t)n);
    } else if (op == 8) {
      char why[64];
      snprintf(why, sizeof why, "close frame %u", n >= 2 ? (unsigned)((payload[0] << 8) | payload[1]) : 0u);
      close_conn(c, why);
      return 0;
    } else if (op == 9) {
      reserve(&scratch, (size_t)n);
      memcpy(scratch.p, payload, (size_t)n);
      scratch.len = (size_t)n;
      send_frame(c, 10);
    } else if (op != 10) {
      bad_frames++;
      note_error("unexpected frame opcode", NULL, 0);
    }
    off += h + (size_t)n;
  }
  memmove(c->in.p, c->in.p + off, c->in.len - off);
  c->in.len -= off;
  return 1;
}

static void on_readable(conn_t *c) {
  for (;;) {
    reserve(&c->in, 65536);
    ssize_t r = recv(c->fd, c->in.p + c->in.len, c->in.cap - c->in.len, 0);
    if (r > 0) {
      c->in.len += (size_t)r;
      if (c->state == S_HANDSHAKE) {
        uint8_t *end = memmem(c->in.p, c->in.len, "\r\n\r\n", 4);
        if (!end) continue;
        if (c->in.len < 12 || memcmp(c->in.p, "HTTP/1.1 101", 12) != 0) {
          connect_errors++;
          note_error("upgrade refused: ", c->in.p, c->in.len < 80 ? c->in.len : 80);
          close_conn(c, "upgrade refused");
          return;
        }
        size_t hl = (size_t)(end + 4 - c->in.p);
        memmove(c->in.p, c->in.p + hl, c->in.len - hl);
        c->in.len -= hl;
        c->state = S_OPEN;
      }
      if (!parse_frames(c)) return;
      if ((size_t)r < 65536) break; /* drained: epoll is level-triggered anyway */
      continue;
    }
    if (r < 0 && errno == EINTR) continue;
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    close_conn(c, r == 0 ? "closed by the tracker" : "reset by the tracker");
    return;
  }
  flush(c);
}

static void start_conn(conn_t *c, const struct sockaddr_in *to, char *req, size_t req_len) {
  c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (c->fd < 0) {
    perror("socket");
    exit(1);
  }
  int one = 1;
  setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (connect(c->fd, (const struct sockaddr *)to, sizeof *to) < 0 && errno != EINPROGRESS) {
    connect_errors++;
    note_error("connect failed", NULL, 0);
    close(c->fd);
    c->state = S_CLOSED;
    return;
  }
  c->state = S_HANDSHAKE;
  put(&c->out, req, req_len);
  struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.u32 = (uint32_t)(c - conns)};
  epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev);
  c->want_out = 1;
}

/* The SDP's length as the peer sees it (each \r or \n escape is one byte). */
static size_t sdp_bytes(void) {
  size_t n = 0;
  for (const char *p = SDP; *p; p++, n++)
    if (*p == '\\') p++;
  return n;
}

static int cmp_u32(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return x < y ? -1 : x > y;
}

static void parse_args(int argc, char **argv) {
  for (int i = 1; i + 1 < argc; i += 2) {
    const char *a = argv[i], *v = argv[i + 1];
    if (!strcmp(a, "--host")) host = v;
    else if (!strcmp(a, "--port")) port = atoi(v);
    else if (!strcmp(a, "--path")) path = v;
    else if (!strcmp(a, "--sockets")) n_sockets = atoi(v);
    else if (!strcmp(a, "--torrents")) n_torrents = atoi(v);
    else if (!strcmp(a, "--window")) window_ = atoi(v);
    else if (!strcmp(a, "--offers")) n_offers = atoi(v);
    else if (!strcmp(a, "--warmup")) warmup = atof(v);
    else if (!strcmp(a, "--duration")) duration = atof(v);
    else if (!strcmp(a, "--max")) max_announces = strtoull(v, NULL, 10);
    else if (!strcmp(a, "--seed")) rng ^= strtoull(v, NULL, 10) * 0xBF58476D1CE4E5B9ull;
    else {
      fprintf(stderr, "unknown option %s\n", a);
      exit(2);
    }
  }
  if (argc % 2 == 0 || port <= 0 || n_sockets < 1 || n_torrents < 1 || window_ < 1 || n_offers < 0 ||
      n_offers > 10) {
    fprintf(stderr,
            "usage: ws-loadgen --port P [--host H] [--path /announce] [--sockets N] [--torrents M] [--window W]\n"
            "         [--offers 0-10] [--warmup S] [--duration S] [--max N] [--seed N]\n");
    exit(2);
  }
}

int main(int argc, char **argv) {
  parse_args(argc, argv);
  struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  if (inet_pton(AF_INET, host, &to.sin_addr) != 1) {
    fprintf(stderr, "bad host %s\n", host);
    return 2;
  }
  epfd = epoll_create1(EPOLL_CLOEXEC);
  hash_json = calloc((size_t)n_torrents, sizeof *hash_json);
  hash_json_len = calloc((size_t)n_torrents, sizeof *hash_json_len);
  for (int t = 0; t < n_torrents; t++) {
    hash_json[t] = malloc(128);
    random_id_json(hash_json[t], &hash_json_len[t]);
  }
  char req[512];
  size_t req_len = (size_t)snprintf(req, sizeof req,
                                    "GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                                    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
                                    path, host, port);
  conns = calloc((size_t)n_sockets, sizeof *conns);
  for (int i = 0; i < n_sockets; i++) {
    conn_t *c = &conns[i];
    random_id_json(c->peer_json, &c->peer_json_len);
    c->hash_json = hash_json[i % n_torrents];
    c->hash_json_len = hash_json_len[i % n_torrents];
    c->sent_at = calloc((size_t)window_, sizeof *c->sent_at);
    start_conn(c, &to, req, req_len);
  }

  struct epoll_event evs[256];
  /* Every socket opens before the first announce, so all swarms are full from the start. */
  int64_t open_deadline = now_ns() + 15 * 1000000000ll;
  for (;;) {
    int open = 0, pending = 0;
    for (int i = 0; i < n_sockets; i++) {
      open += conns[i].state == S_OPEN;
      pending += conns[i].state == S_CONNECTING || conns[i].state == S_HANDSHAKE;
    }
    if (pending == 0) break;
    if (now_ns() > open_deadline) {
      note_error("sockets not open within 15 s", NULL, 0);
      for (int i = 0; i < n_sockets; i++)
        if (conns[i].state != S_OPEN && conns[i].state != S_CLOSED) {
          connect_errors++;
          close_conn(&conns[i], "not open within 15 s");
        }
      break;
    }
    int n = epoll_wait(epfd, evs, 256, 10);
    for (int i = 0; i < n; i++) {
      conn_t *c = &conns[evs[i].data.u32];
      if (c->state == S_CLOSED) continue;
      if (evs[i].events & EPOLLIN) on_readable(c);
      if (c->state != S_CLOSED && (evs[i].events & EPOLLOUT)) flush(c);
      if (c->state != S_CLOSED && (evs[i].events & (EPOLLERR | EPOLLHUP)) && !(evs[i].events & EPOLLIN)) {
        connect_errors++;
        close_conn(c, "connect failed");
      }
    }
  }
  int opened = 0;
  for (int i = 0; i < n_sockets; i++) {
    conn_t *c = &conns[i];
    if (c->state != S_OPEN) continue;
    opened++;
    for (int w = 0; w < window_; w++) send_announce(c);
    flush(c);
  }

  int64_t t0 = now_ns();
  int64_t t_start = t0 + (int64_t)(warmup * 1e9);
  int64_t t_end = t_start + (int64_t)(duration * 1e9);
  int64_t t_measure = t0;
  if (warmup <= 0) {
    measuring = 1;
    printf("START\n");
    fflush(stdout);
  }
  while (opened > 0) {
    int n = epoll_wait(epfd, evs, 256, 5);
    for (int i = 0; i < n; i++) {
      conn_t *c = &conns[evs[i].data.u32];
      if (c->state == S_CLOSED) continue;
      if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) on_readable(c);
      else if (evs[i].events & EPOLLOUT) flush(c);
    }
    int64_t now = now_ns();
    if (!measuring && now >= t_start) {
      measuring = 1;
      t_measure = now;
      printf("START\n");
      fflush(stdout);
    }
    if (now >= t_end || (max_announces && announces >= max_announces)) break;
  }
  int64_t t_stop = now_ns();
  measuring = 0;
  stopping = 1;
  printf("END\n");
  fflush(stdout);
  for (int i = 0; i < n_sockets; i++)
    if (conns[i].state != S_CLOSED) close_conn(&conns[i], "");

  double secs = opened > 0 ? (double)(t_stop - t_measure) / 1e9 : 0;
  uint32_t p50 = 0, p99 = 0;
  if (lat_len) {
    qsort(lat, lat_len, sizeof *lat, cmp_u32);
    p50 = lat[lat_len / 2];
    p99 = lat[(size_t)((double)lat_len * 0.99)];
  }
  printf("{\"announces\":%llu,\"seconds\":%.4f,\"rate\":%.1f,\"offersReceived\":%llu,\"answersReceived\":%llu,"
         "\"answersSent\":%llu,\"failures\":%llu,\"closed\":%llu,\"connectErrors\":%llu,\"badFrames\":%llu,"
         "\"otherMessages\":%llu,\"opened\":%d,\"p50Us\":%u,\"p99Us\":%u,\"sdpBytes\":%zu,\"firstError\":\"%s\"}\n",
         (unsigned long long)announces, secs, secs > 0 ? (double)announces / secs : 0,
         (unsigned long long)offers_received, (unsigned long long)answers_received, (unsigned long long)answers_sent,
         (unsigned long long)failures, (unsigned long long)closed_sockets, (unsigned long long)connect_errors,
         (unsigned long long)bad_frames, (unsigned long long)other_messages, opened, p50, p99,
         sdp_bytes(), first_error);
  return 0;
}
