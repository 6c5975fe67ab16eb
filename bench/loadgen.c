/*
 * BitStorm bench load generator: BEP 15 UDP and HTTP announces with a fixed
 * number of requests in flight, every reply checked.
 *
 * Why C: the bench runs on a 2-core machine where the generator competes with
 * the tracker for CPU. A Node generator tops out below opentracker, so the
 * "announces/s" column would measure the generator. One epoll loop with
 * non-blocking sockets costs a few µs per announce; the bench also reports the
 * tracker's own CPU per announce, which holds even when the generator is the
 * bottleneck.
 *
 * The workload (torrent hashes and a sequence of announces) is written by
 * bench/workload.ts, so every tracker gets exactly the same traffic.
 *
 * Peer identity: opentracker keys a peer by IP:port (it ignores peer_id), so
 * every simulated client has its own (source IP, port) pair. Client c announces
 * from 127.2.x.y (any 127/8 address is local on Linux) chosen by c % nIps, with
 * port 1024 + c / nIps, peer_id "-BZ0100-" + 12 hex digits of c, key c.
 *
 * Build: gcc -O2 -o loadgen loadgen.c (bench/setup does it).
 * Usage: loadgen --mode udp|http|http-ka --port P --file W [--host 127.0.0.1]
 *          [--concurrency 64] [--duration 10] [--warmup 0] [--once]
 *          [--start 0] [--end N] [--max N] [--numwant 50] [--timeout-ms 2000]
 *          [--path /announce/<passkey>]   (UDP: sent as BEP 41 URL data)
 *          [--rate R]   (UDP: start at most R requests a second, spread evenly;
 *                        a slot waits for its turn, which its latency does not count)
 * Prints "START" and "END" lines around the measured window (the bench samples
 * /proc CPU counters on them), then one JSON line with the results.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
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

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

enum { MODE_UDP, MODE_HTTP, MODE_HTTP_KA };
enum { EV_NONE = 0, EV_COMPLETED = 1, EV_STARTED = 2, EV_STOPPED = 3 };

typedef struct {
  uint32_t torrent;
  uint32_t client;
  uint8_t event;
  uint8_t seeder;
  uint16_t pad;
} record_t;

/* Error kinds, reported by name. */
enum {
  E_TIMEOUT,
  E_UDP_ERROR_REPLY,
  E_UDP_BAD_REPLY,
  E_HTTP_STATUS,
  E_FAILURE_REASON,
  E_BAD_BODY,
  E_CONNECT,
  E_RESET,
  E_EMPTY_SWARM,
  E_COUNT
};
static const char *error_names[E_COUNT] = {"timeout",         "udp_error_reply", "udp_bad_reply",
                                           "http_status",     "failure_reason",  "bad_body",
                                           "connect",         "reset",           "empty_swarm"};

typedef struct {
  int state; /* 0 idle, 1 connect sent / tcp connecting, 2 announce sent / request sent, 3 done waiting EOF */
  int fd;    /* tcp */
  int ip;
  uint32_t gen;
  int64_t started_ns;
  int64_t deadline_ns;
  const record_t *rec;
  size_t have;
  char buf[4096];
  size_t req_len;
  size_t req_sent;
  char req[512];
  int reused; /* keep-alive connection already served a request */
  int tries;  /* UDP sends of the current record (prefill retries) */
  int waiting; /* --rate: idle until deadline_ns, its turn to start */
} slot_t;

static int mode = MODE_UDP;
static const char *host = "127.0.0.1";
static int port = 6969;
static const char *file = NULL;
static int concurrency = 64;
static double duration = 10, warmup = 0;
static int once = 0;
static uint64_t start_at = 0, end_at = 0, max_requests = 0;
static int numwant = 50;
static int timeout_ms = 2000;
/* Announce path: "/announce", or "/announce/<passkey>" for a private tracker (UDP: sent as BEP 41 URL data). */
static const char *path = "/announce";
/* --rate: requests started per second across all slots (UDP); 0 = each slot starts its next at once. */
static double rate = 0;
static int64_t next_turn_ns;

static uint32_t n_torrents, n_clients, n_records, n_ips;
static uint8_t *hashes;
static record_t *records;
/* Records bucketed by source IP so a keep-alive connection only carries its own clients. */
static uint32_t **by_ip;
static uint32_t *by_ip_len, *by_ip_pos;
static uint64_t issued_total;

static int epfd;
static int *udp_fds;
static struct sockaddr_in target;
static slot_t *slots;

static int measuring;
static uint64_t ok_count, err_count, errors[E_COUNT], retries;
static char first_error[200];
static uint32_t *lat;
static size_t lat_len, lat_cap;

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void die(const char *what) {
  perror(what);
  exit(2);
}

static uint32_t ip_of(int idx) { return (127u << 24) | (2u << 16) | ((uint32_t)(idx / 250) << 8) | (uint32_t)(idx % 250 + 2); }
static int client_ip(uint32_t c) { return (int)(c % n_ips); }
static int client_port(uint32_t c) { return 1024 + (int)(c / n_ips); }

static void peer_id(uint32_t c, char out[20]) {
  char tmp[21];
  snprintf(tmp, sizeof tmp, "-BZ0100-%012x", c);
  memcpy(out, tmp, 20);
}

static void load_file(void) {
  FILE *f = fopen(file, "rb");
  if (!f) die("open workload");
  uint32_t hdr[6];
  if (fread(hdr, 4, 6, f) != 6 || memcmp(hdr, "BSWL", 4) != 0) {
    fprintf(stderr, "bad workload file\n");
    exit(2);
  }
  n_torrents = hdr[2];
  n_clients = hdr[3];
  n_records = hdr[4];
  n_ips = hdr[5];
  hashes = malloc((size_t)n_torrents * 20);
  records = malloc((size_t)n_records * sizeof(record_t));
  if (fread(hashes, 20, n_torrents, f) != n_torrents || fread(records, sizeof(record_t), n_records, f) != n_records) {
    fprintf(stderr, "short workload file\n");
    exit(2);
  }
  fclose(f);
  by_ip = calloc(n_ips, sizeof *by_ip);
  by_ip_len = calloc(n_ips, sizeof *by_ip_len);
  by_ip_pos = calloc(n_ips, sizeof *by_ip_pos);
  /* Records [start, end) are used: each once with --once, else in a loop. */
  uint64_t end = end_at && end_at < n_records ? end_at : n_records;
  if (once && max_requests && start_at + max_requests < end) end = start_at + max_requests;
  if (start_at >= end) {
    fprintf(stderr, "empty record range\n");
    exit(2);
  }
  for (int pass = 0; pass < 2; pass++) {
    for (uint32_t i = 0; i < n_ips; i++) by_ip_len[i] = 0;
    for (uint64_t r = start_at; r < end; r++) {
      int ip = client_ip(records[r].client);
      if (pass) by_ip[ip][by_ip_len[ip]] = (uint32_t)r;
      by_ip_len[ip]++;
    }
    if (!pass)
      for (uint32_t i = 0; i < n_ips; i++) by_ip[i] = malloc(sizeof(uint32_t) * (by_ip_len[i] + 1));
  }
}

/* Next record for a slot preferring its own IP; NULL when --once has used them all. */
static const record_t *next_record(int prefer_ip) {
  if (max_requests && !once && issued_total >= max_requests) return NULL;
  for (uint32_t k = 0; k < n_ips; k++) {
    int ip = (int)((prefer_ip + k) % n_ips);
    if (by_ip_len[ip] == 0) continue;
    if (by_ip_pos[ip] >= by_ip_len[ip]) {
      if (once) continue;
      by_ip_pos[ip] = 0;
    }
    issued_total++;
    return &records[by_ip[ip][by_ip_pos[ip]++]];
  }
  return NULL;
}

static void record_error(int kind, const char *detail) {
  if (!measuring) return;
  err_count++;
  errors[kind]++;
  if (!first_error[0]) snprintf(first_error, sizeof first_error, "%s: %s", error_names[kind], detail);
}

static void record_ok(int64_t started) {
  if (!measuring) return;
  ok_count++;
  if (lat_len == lat_cap) {
    lat_cap = lat_cap ? lat_cap * 2 : 1 << 20;
    lat = realloc(lat, lat_cap * sizeof *lat);
  }
  int64_t us = (now_ns() - started) / 1000;
  lat[lat_len++] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
}

/* ---------- UDP (BEP 15) ---------- */

static void put64(uint8_t *p, uint64_t v) {
  for (int i = 7; i >= 0; i--, v >>= 8) p[i] = (uint8_t)v;
}
static void put32(uint8_t *p, uint32_t v) {
  p[0] = v >> 24;
  p[1] = v >> 16;
  p[2] = v >> 8;
  p[3] = (uint8_t)v;
}
static uint32_t get32(const uint8_t *p) { return ((uint32_t)p[0] << 24) | (p[1] << 16) | (p[2] << 8) | p[3]; }

static uint32_t tid_of(int s) { return ((uint32_t)s << 12) | (slots[s].gen & 0xfff); }

static void udp_send_connect(int s) {
  slot_t *sl = &slots[s];
  uint8_t pkt[16];
  put64(pkt, 0x41727101980ULL);
  put32(pkt + 8, 0);
  put32(pkt + 12, tid_of(s));
  sl->state = 1;
  if (sendto(udp_fds[sl->ip], pkt, 16, 0, (struct sockaddr *)&target, sizeof target) < 0 && errno != EAGAIN)
    record_error(E_CONNECT, strerror(errno));
}

static void udp_launch(int s);

/* Starts slot s's next request now, or with --rate at the next free turn (the
   main loop launches it then). A schedule fallen behind by more than a
   millisecond restarts from now rather than bursting to catch up. */
static void udp_start(int s) {
  if (rate > 0) {
    int64_t now = now_ns();
    if (next_turn_ns < now - 1000000) next_turn_ns = now;
    int64_t turn = next_turn_ns;
    next_turn_ns += (int64_t)(1e9 / rate);
    if (turn > now) {
      slots[s].state = 0;
      slots[s].waiting = 1;
      slots[s].deadline_ns = turn;
      return;
    }
  }
  udp_launch(s);
}

static void udp_launch(int s) {
  slot_t *sl = &slots[s];
  sl->waiting = 0;
  sl->rec = next_record(s % (int)n_ips);
  if (!sl->rec) {
    sl->state = 0;
    return;
  }
  sl->ip = client_ip(sl->rec->client);
  sl->gen++;
  sl->tries = 1;
  sl->started_ns = now_ns();
  sl->deadline_ns = sl->started_ns + (int64_t)timeout_ms * 1000000;
  udp_send_connect(s);
}

static void udp_send_announce(int s, const uint8_t *conn_id) {
  slot_t *sl = &slots[s];
  const record_t *r = sl->rec;
  uint8_t pkt[98 + 2 * 3 + 300];
  memcpy(pkt, conn_id, 8);
  put32(pkt + 8, 1);
  put32(pkt + 12, tid_of(s));
  memcpy(pkt + 16, hashes + (size_t)r->torrent * 20, 20);
  peer_id(r->client, (char *)pkt + 36);
  put64(pkt + 56, r->seeder ? 1000000 : 0);  /* downloaded */
  put64(pkt + 64, r->seeder ? 0 : 1000000);  /* left */
  put64(pkt + 72, 0);                        /* uploaded */
  put32(pkt + 80, r->event);
  put32(pkt + 84, 0);                        /* ip: use the source address */
  put32(pkt + 88, r->client);                /* key */
  put32(pkt + 92, (uint32_t)numwant);
  uint16_t p = (uint16_t)client_port(r->client);
  pkt[96] = p >> 8;
  pkt[97] = p & 0xff;
  size_t len = 98;
  if (strcmp(path, "/announce") != 0) {
    /* BEP 41 URLData options of at most 255 bytes each, then EndOfOptions. */
    size_t left = strlen(path), at = 0;
    while (left > 0 && len + 2 + 255 + 1 <= sizeof pkt) {
      size_t chunk = left < 255 ? left : 255;
      pkt[len++] = 2;
      pkt[len++] = (uint8_t)chunk;
      memcpy(pkt + len, path + at, chunk);
      len += chunk;
      at += chunk;
      left -= chunk;
    }
    pkt[len++] = 0;
  }
  sl->state = 2;
  if (sendto(udp_fds[sl->ip], pkt, len, 0, (struct sockaddr *)&target, sizeof target) < 0 && errno != EAGAIN)
    record_error(E_CONNECT, strerror(errno));
}

static void udp_readable(int fd) {
  uint8_t buf[2048];
  for (;;) {
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      if (errno == ECONNREFUSED) continue;
      return;
    }
    if (n < 8) continue;
    uint32_t tid = get32(buf + 4);
    int s = (int)(tid >> 12);
    if (s >= concurrency) continue;
    slot_t *sl = &slots[s];
    if (sl->state == 0 || (sl->gen & 0xfff) != (tid & 0xfff)) continue; /* stale: already timed out */
    uint32_t action = get32(buf);
    if (action == 3) {
      char msg[128];
      int len = (int)(n - 8 < 127 ? n - 8 : 127);
      memcpy(msg, buf + 8, (size_t)len);
      msg[len] = 0;
      record_error(E_UDP_ERROR_REPLY, msg);
      udp_start(s);
    } else if (sl->state == 1) {
      if (action != 0 || n < 16) {
        record_error(E_UDP_BAD_REPLY, "bad connect reply");
        udp_start(s);
      } else {
        udp_send_announce(s, buf + 8);
      }
    } else if (sl->state == 2) {
      /* numwant 0 (prefill) is read as "default" by some trackers: more peers is harmless there. */
      if (action != 1 || n < 20 || (n - 20) % 6 != 0 || (numwant > 0 && (n - 20) / 6 > numwant)) {
        record_error(E_UDP_BAD_REPLY, "bad announce reply");
      } else if (sl->rec->event != EV_STOPPED && get32(buf + 12) + get32(buf + 16) == 0) {
        /* The announcing peer itself is in the swarm: zero counts mean it was not stored. */
        record_error(E_EMPTY_SWARM, "announce reply counts no peer");
      } else {
        record_ok(sl->started_ns);
      }
      udp_start(s);
    }
  }
}

/* ---------- HTTP ---------- */

static size_t build_request(char *out, size_t cap, const record_t *r, int keepalive) {
  static const char *hex = "0123456789ABCDEF";
  char ih[61], pid[20];
  const uint8_t *h = hashes + (size_t)r->torrent * 20;
  for (int i = 0; i < 20; i++) {
    ih[i * 3] = '%';
    ih[i * 3 + 1] = hex[h[i] >> 4];
    ih[i * 3 + 2] = hex[h[i] & 15];
  }
  ih[60] = 0;
  peer_id(r->client, pid);
  static const char *events[] = {"", "&event=completed", "&event=started", "&event=stopped"};
  int n = snprintf(out, cap,
                   "GET %s?info_hash=%s&peer_id=%.20s&port=%d&uploaded=0&downloaded=%d&left=%d%s"
                   "&compact=1&numwant=%d&key=%x HTTP/1.1\r\nHost: %s:%d\r\nUser-Agent: bitstorm-bench/1\r\n"
                   "Accept-Encoding: gzip\r\nConnection: %s\r\n\r\n",
                   path, ih, pid, client_port(r->client), r->seeder ? 1000000 : 0, r->seeder ? 0 : 1000000,
                   events[r->event & 3], numwant, r->client, host, port, keepalive ? "keep-alive" : "close");
  return (size_t)n;
}

static void http_close_fd(slot_t *sl) {
  if (sl->fd >= 0) {
    epoll_ctl(epfd, EPOLL_CTL_DEL, sl->fd, NULL);
    close(sl->fd);
    sl->fd = -1;
  }
}

static int http_connect(int s) {
  slot_t *sl = &slots[s];
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  int one = 1;
  setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  struct sockaddr_in src = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(ip_of(sl->ip))};
  if (bind(fd, (struct sockaddr *)&src, sizeof src) < 0) {
    close(fd);
    return -1;
  }
  if (connect(fd, (struct sockaddr *)&target, sizeof target) < 0 && errno != EINPROGRESS) {
    close(fd);
    return -1;
  }
  sl->fd = fd;
  sl->reused = 0;
  struct epoll_event ev = {.events = EPOLLOUT | EPOLLIN | EPOLLRDHUP, .data.u64 = (uint64_t)s + 1000000};
  epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
  return 0;
}

static void http_try_send(int s);

/*
 * A keep-alive connection the server closed while idle (opentracker closes
 * after every reply; Node after its keepAliveTimeout): reconnect and resend,
 * as HTTP clients do for an idempotent GET. Not an error; the latency includes
 * the reconnect.
 */
static void http_retry_fresh(int s) {
  slot_t *sl = &slots[s];
  http_close_fd(sl);
  sl->have = 0;
  sl->req_sent = 0;
  if (http_connect(s) < 0) {
    record_error(E_CONNECT, strerror(errno));
    sl->state = 0;
    sl->deadline_ns = now_ns() + 10000000;
    return;
  }
  sl->state = 1;
}

static void http_start(int s) {
  slot_t *sl = &slots[s];
  const record_t *r = next_record(sl->fd >= 0 ? sl->ip : s % (int)n_ips);
  if (!r) {
    sl->state = 0;
    http_close_fd(sl);
    return;
  }
  int ip = client_ip(r->client);
  if (sl->fd >= 0 && ip != sl->ip) http_close_fd(sl);
  sl->rec = r;
  sl->ip = ip;
  sl->have = 0;
  sl->req_sent = 0;
  sl->req_len = build_request(sl->req, sizeof sl->req, r, mode == MODE_HTTP_KA);
  sl->started_ns = now_ns();
  sl->deadline_ns = sl->started_ns + (int64_t)timeout_ms * 1000000;
  sl->gen++;
  if (sl->fd < 0) {
    if (http_connect(s) < 0) {
      record_error(E_CONNECT, strerror(errno));
      sl->state = 0; /* retried by the timeout scan */
      sl->deadline_ns = now_ns() + 10000000;
      return;
    }
    sl->state = 1;
  } else {
    sl->state = 2;
    http_try_send(s);
  }
}

static void http_try_send(int s) {
  slot_t *sl = &slots[s];
  while (sl->req_sent < sl->req_len) {
    ssize_t n = send(sl->fd, sl->req + sl->req_sent, sl->req_len - sl->req_sent, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EAGAIN) return;
      if (sl->reused) return http_retry_fresh(s);
      record_error(E_CONNECT, strerror(errno));
      http_close_fd(sl);
      http_start(s);
      return;
    }
    sl->req_sent += (size_t)n;
  }
}

static int ci_find(const char *hay, size_t len, const char *needle) {
  size_t nl = strlen(needle);
  for (size_t i = 0; i + nl <= len; i++)
    if (strncasecmp(hay + i, needle, nl) == 0) return (int)i;
  return -1;
}

static int mem_find(const char *hay, size_t len, const char *needle) {
  void *p = memmem(hay, len, needle, strlen(needle));
  return p ? (int)((const char *)p - hay) : -1;
}

/* 1: complete response handled, 0: need more bytes. */
static int http_parse(int s, int eof) {
  slot_t *sl = &slots[s];
  int hend = mem_find(sl->buf, sl->have, "\r\n\r\n");
  if (hend < 0) return 0;
  size_t body_at = (size_t)hend + 4;
  int cl_at = ci_find(sl->buf, (size_t)hend, "\r\ncontent-length:");
  size_t body_len;
  if (cl_at >= 0) {
    body_len = (size_t)strtoul(sl->buf + cl_at + 17, NULL, 10);
    if (sl->have < body_at + body_len) return 0;
  } else if (ci_find(sl->buf, (size_t)hend, "\r\ntransfer-encoding: chunked") >= 0) {
    if (sl->have < 5 || memcmp(sl->buf + sl->have - 5, "0\r\n\r\n", 5) != 0) return 0;
    body_len = sl->have - body_at;
  } else {
    if (!eof) return 0;
    body_len = sl->have - body_at;
  }
  const char *body = sl->buf + body_at;
  int status = sl->have > 12 ? atoi(sl->buf + 9) : 0;
  if (status != 200) {
    char d[32];
    snprintf(d, sizeof d, "status %d", status);
    record_error(E_HTTP_STATUS, d);
  } else if (mem_find(body, body_len, "failure reason") >= 0) {
    char d[160];
    snprintf(d, sizeof d, "%.*s", (int)(body_len < 150 ? body_len : 150), body);
    record_error(E_FAILURE_REASON, d);
  } else if (body_len < 2 || body[0] != 'd' || mem_find(body, body_len, "8:intervali") < 0 ||
             mem_find(body, body_len, "5:peers") < 0) {
    char d[160];
    snprintf(d, sizeof d, "%.*s", (int)(body_len < 150 ? body_len : 150), body);
    record_error(E_BAD_BODY, d);
  } else {
    record_ok(sl->started_ns);
  }
  int server_closes = ci_find(sl->buf, (size_t)hend, "\r\nconnection: close") >= 0 || sl->buf[7] == '0';
  if (mode == MODE_HTTP_KA && !server_closes && !eof) {
    sl->reused = 1;
    http_start(s);
  } else if (eof || mode == MODE_HTTP_KA) {
    http_close_fd(sl);
    http_start(s);
  } else {
    /* One connection per announce: wait for the server's FIN so TIME_WAIT stays on its side. */
    sl->state = 3;
  }
  return 1;
}

static void http_event(int s, uint32_t events) {
  slot_t *sl = &slots[s];
  if (sl->fd < 0) return;
  if (sl->state == 1 && (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
    int err = 0;
    socklen_t l = sizeof err;
    getsockopt(sl->fd, SOL_SOCKET, SO_ERROR, &err, &l);
    if (err) {
      record_error(E_CONNECT, strerror(err));
      http_close_fd(sl);
      http_start(s);
      return;
    }
    struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.u64 = (uint64_t)s + 1000000};
    epoll_ctl(epfd, EPOLL_CTL_MOD, sl->fd, &ev);
    sl->state = 2;
    http_try_send(s);
    if (sl->fd < 0 || sl->state != 2) return;
  }
  if (sl->state == 2 && (events & EPOLLOUT) && sl->req_sent < sl->req_len) http_try_send(s);
  if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
    for (;;) {
      if (sl->state == 3) {
        char sink[512];
        ssize_t n = recv(sl->fd, sink, sizeof sink, 0);
        if (n > 0) continue;
        if (n < 0 && errno == EAGAIN) return;
        http_close_fd(sl);
        http_start(s);
        return;
      }
      if (sl->state != 2) return;
      if (sl->have >= sizeof sl->buf) {
        record_error(E_BAD_BODY, "response too large");
        http_close_fd(sl);
        http_start(s);
        return;
      }
      ssize_t n = recv(sl->fd, sl->buf + sl->have, sizeof sl->buf - sl->have, 0);
      if (n > 0) {
        sl->have += (size_t)n;
        if (http_parse(s, 0)) return;
        continue;
      }
      if (n < 0 && errno == EAGAIN) return;
      /* EOF or error before a complete response. */
      if (n == 0 && http_parse(s, 1)) return;
      if (sl->reused && sl->have == 0) return http_retry_fresh(s);
      record_error(n == 0 ? E_BAD_BODY : E_RESET,
                   n == 0 ? "connection closed before a complete response" : strerror(errno));
      http_close_fd(sl);
      http_start(s);
      return;
    }
  }
}

/* ---------- main loop ---------- */

static int cmp_u32(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return x < y ? -1 : x > y;
}

static void parse_args(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : "";
    if (!strcmp(a, "--once")) {
      once = 1;
      continue;
    }
    i++;
    if (!strcmp(a, "--mode")) mode = !strcmp(v, "udp") ? MODE_UDP : !strcmp(v, "http") ? MODE_HTTP : MODE_HTTP_KA;
    else if (!strcmp(a, "--host")) host = v;
    else if (!strcmp(a, "--port")) port = atoi(v);
    else if (!strcmp(a, "--file")) file = v;
    else if (!strcmp(a, "--concurrency")) concurrency = atoi(v);
    else if (!strcmp(a, "--duration")) duration = atof(v);
    else if (!strcmp(a, "--warmup")) warmup = atof(v);
    else if (!strcmp(a, "--start")) start_at = strtoull(v, NULL, 10);
    else if (!strcmp(a, "--end")) end_at = strtoull(v, NULL, 10);
    else if (!strcmp(a, "--max")) max_requests = strtoull(v, NULL, 10);
    else if (!strcmp(a, "--numwant")) numwant = atoi(v);
    else if (!strcmp(a, "--timeout-ms")) timeout_ms = atoi(v);
    else if (!strcmp(a, "--path")) path = v;
    else if (!strcmp(a, "--rate")) rate = atof(v);
    else {
      fprintf(stderr, "unknown option %s\n", a);
      exit(2);
    }
  }
  if (!file || concurrency < 1 || concurrency > 65000 || rate < 0 || (rate > 0 && (mode != MODE_UDP || once))) {
    fprintf(stderr, "usage: loadgen --mode udp|http|http-ka --port P --file W [options]\n");
    exit(2);
  }
}

int main(int argc, char **argv) {
  parse_args(argc, argv);
  load_file();
  target.sin_family = AF_INET;
  target.sin_port = htons((uint16_t)port);
  if (inet_pton(AF_INET, host, &target.sin_addr) != 1) die("host");
  epfd = epoll_create1(EPOLL_CLOEXEC);
  slots = calloc((size_t)concurrency, sizeof *slots);
  for (int s = 0; s < concurrency; s++) slots[s].fd = -1;
  if (mode == MODE_UDP) {
    udp_fds = calloc(n_ips, sizeof *udp_fds);
    for (uint32_t i = 0; i < n_ips; i++) {
      int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      int sz = 4 << 20;
      setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
      setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
      struct sockaddr_in src = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(ip_of((int)i))};
      if (bind(fd, (struct sockaddr *)&src, sizeof src) < 0) die("bind udp");
      udp_fds[i] = fd;
      struct epoll_event ev = {.events = EPOLLIN, .data.u64 = i};
      epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
    }
  }

  int64_t t0 = now_ns();
  int64_t t_start = t0 + (int64_t)(warmup * 1e9);
  int64_t t_end = t_start + (int64_t)(duration * 1e9);
  measuring = warmup <= 0;
  if (measuring) {
    printf("START\n");
    fflush(stdout);
  }
  for (int s = 0; s < concurrency; s++) {
    if (mode == MODE_UDP) udp_start(s);
    else http_start(s);
  }

  struct epoll_event evs[256];
  int64_t last_scan = t0;
  int64_t measured_ns = 0;
  for (;;) {
    int n = epoll_wait(epfd, evs, 256, rate > 0 ? 1 : 5);
    for (int i = 0; i < n; i++) {
      uint64_t d = evs[i].data.u64;
      if (d >= 1000000) http_event((int)(d - 1000000), evs[i].events);
      else udp_readable(udp_fds[d]);
    }
    int64_t now = now_ns();
    if (!measuring && now >= t_start && now < t_end) {
      measuring = 1;
      printf("START\n");
      fflush(stdout);
    }
    if (now >= t_end) break;
    if (rate > 0) {
      for (int s = 0; s < concurrency; s++)
        if (slots[s].waiting && now >= slots[s].deadline_ns) udp_launch(s);
    }
    if (now - last_scan >= 2000000) {
      last_scan = now;
      int active = 0;
      for (int s = 0; s < concurrency; s++) {
        slot_t *sl = &slots[s];
        if (sl->state != 0) active++;
        if (now < sl->deadline_ns) continue;
        if (sl->state == 0) {
          if (mode != MODE_UDP && sl->deadline_ns) { /* retry after a failed connect */
            sl->deadline_ns = 0;
            http_start(s);
            if (slots[s].state) active++;
          }
          continue;
        }
        if (sl->state == 3) { /* response counted; server slow to close */
          http_close_fd(sl);
          http_start(s);
          continue;
        }
        if (once && mode == MODE_UDP && sl->tries < 4) {
          /* Prefill: a lost datagram is resent, as clients do (BEP 15), so the state is complete. */
          sl->tries++;
          sl->gen++;
          sl->deadline_ns = now + (int64_t)timeout_ms * 1000000;
          udp_send_connect(s);
          retries++;
          continue;
        }
        record_error(E_TIMEOUT, sl->state == 1 ? "no connect reply" : "no announce reply");
        if (mode == MODE_UDP) udp_start(s);
        else {
          http_close_fd(sl);
          http_start(s);
        }
      }
      if (once && active == 0) break;
    }
  }
  int64_t t_stop = now_ns();
  measured_ns = t_stop - (t_start > t0 ? t_start : t0);
  printf("END\n");
  fflush(stdout);
  for (int s = 0; s < concurrency; s++) http_close_fd(&slots[s]);

  double secs = (double)measured_ns / 1e9;
  uint32_t p50 = 0, p90 = 0, p99 = 0, pmax = 0;
  if (lat_len) {
    qsort(lat, lat_len, sizeof *lat, cmp_u32);
    p50 = lat[lat_len / 2];
    p90 = lat[(size_t)(lat_len * 0.90)];
    p99 = lat[(size_t)(lat_len * 0.99)];
    pmax = lat[lat_len - 1];
  }
  printf("{\"ok\":%llu,\"errors\":%llu,\"seconds\":%.4f,\"rate\":%.1f,\"p50_us\":%u,\"p90_us\":%u,\"p99_us\":%u,"
         "\"max_us\":%u,\"issued\":%llu,\"retries\":%llu,\"error_kinds\":{",
         (unsigned long long)ok_count, (unsigned long long)err_count, secs, secs > 0 ? ok_count / secs : 0, p50, p90,
         p99, pmax, (unsigned long long)issued_total, (unsigned long long)retries);
  int first = 1;
  for (int k = 0; k < E_COUNT; k++) {
    if (!errors[k]) continue;
    printf("%s\"%s\":%llu", first ? "" : ",", error_names[k], (unsigned long long)errors[k]);
    first = 0;
  }
  printf("},\"first_error\":\"");
  for (const char *p = first_error; *p; p++) {
    if (*p == '"' || *p == '\\') putchar('\\');
    putchar((unsigned char)*p >= 0x20 && (unsigned char)*p < 0x7f ? *p : '?');
  }
  printf("\"}\n");
  return 0;
}
