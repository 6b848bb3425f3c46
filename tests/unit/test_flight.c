/* SPDX-License-Identifier: MIT */
/*
 * The single flight as processes sharing a Redis see it: one makes the value, the others
 * wait for it and see it, or see the maker fail; a wait is bounded; a value stored meanwhile
 * is taken, not made again; a refused lock and a Redis that is down leave each process to
 * make its own; a lock that is another's now is never released. Two fl_redis handles play
 * two processes against a small Redis stand-in on a unix socket (a thread of this test).
 */
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "fl_dsn.h"
#include "fl_flight.h"
#include "fl_time.h"
#include "test.h"

#define LOCK_KEY    "fl:test:lock"
#define VALUE_KEY   "fl:test:value"
#define REFUSED_KEY "fl:test:refused" /* SET on it is refused, as under maxmemory */
#define KEYS_MAX    8
#define CLIENTS_MAX 4

/* ---- the stand-in: SET [NX], GET, EXISTS and the compare-and-delete EVAL ---- */

static struct {
    pthread_mutex_t mu;
    char key[KEYS_MAX][64], val[KEYS_MAX][64];
    char journal[8192]; /* "<command> <key>\n" per command, in order */
    int listen_fd, stop[2];
    char dir[32], path[64];
} fake = {.mu = PTHREAD_MUTEX_INITIALIZER, .dir = "/tmp/fl-flight-XXXXXX"};

/* The value of key, or NULL. Called with fake.mu held. */
static char *find(const char *key)
{
    for (int i = 0; i < KEYS_MAX; i++)
        if (fake.key[i][0] && strcmp(fake.key[i], key) == 0)
            return fake.val[i];
    return NULL;
}

static void put(const char *key, const char *val)
{
    char *v = find(key);

    for (int i = 0; v == NULL && i < KEYS_MAX; i++)
        if (fake.key[i][0] == '\0') {
            snprintf(fake.key[i], sizeof(fake.key[i]), "%s", key);
            v = fake.val[i];
        }
    if (v)
        snprintf(v, sizeof(fake.val[0]), "%s", val);
}

static void del(const char *key)
{
    char *v = find(key);

    if (v)
        fake.key[(v - fake.val[0]) / (ptrdiff_t)sizeof(fake.val[0])][0] = '\0';
}

/* The reply to one command (argv NUL-terminated strings) in out. */
static void execute(char **argv, int argc, char *out, size_t cap)
{
    const char *v, *key = strcmp(argv[0], "EVAL") == 0 && argc > 3 ? argv[3]
                          : argc > 1                               ? argv[1]
                                                                   : "";

    pthread_mutex_lock(&fake.mu);
    snprintf(fake.journal + strlen(fake.journal), sizeof(fake.journal) - strlen(fake.journal),
             "%s %s\n", argv[0], key);
    if (strcmp(argv[0], "GET") == 0 && argc == 2 && (v = find(argv[1])))
        snprintf(out, cap, "$%zu\r\n%s\r\n", strlen(v), v);
    else if (strcmp(argv[0], "GET") == 0 && argc == 2)
        snprintf(out, cap, "$-1\r\n");
    else if (strcmp(argv[0], "EXISTS") == 0 && argc == 2)
        snprintf(out, cap, ":%d\r\n", find(argv[1]) != NULL);
    else if (strcmp(argv[0], "SET") == 0 && argc >= 3 && strcmp(argv[1], REFUSED_KEY) == 0)
        snprintf(out, cap, "-OOM command not allowed when used memory > 'maxmemory'\r\n");
    else if (strcmp(argv[0], "SET") == 0 && argc >= 4 && strcmp(argv[3], "NX") == 0 &&
             find(argv[1]))
        snprintf(out, cap, "$-1\r\n");
    else if (strcmp(argv[0], "SET") == 0 && argc >= 3) {
        put(argv[1], argv[2]);
        snprintf(out, cap, "+OK\r\n");
    } else if (strcmp(argv[0], "EVAL") == 0 && argc == 5 && (v = find(argv[3])) &&
               strcmp(v, argv[4]) == 0) {
        del(argv[3]);
        snprintf(out, cap, ":1\r\n");
    } else if (strcmp(argv[0], "EVAL") == 0 && argc == 5)
        snprintf(out, cap, ":0\r\n");
    else
        snprintf(out, cap, "-ERR unknown command\r\n");
    pthread_mutex_unlock(&fake.mu);
}

/*
 * Runs every whole request ("*N\r\n" then N times "$len\r\n<bytes>\r\n") at the start of
 * buf (NUL-terminated), answering on fd; returns the bytes used.
 */
static size_t serve(int fd, char *buf, size_t len)
{
    size_t used = 0;

    for (;;) {
        char *argv[16], *p = buf + used, *end;
        char reply[256];
        long argc = *p == '*' ? strtol(p + 1, &end, 10) : -1;
        if (argc < 1 || argc > 16 || (p = strstr(p, "\r\n")) == NULL)
            return used;
        p += 2;
        for (long i = 0; i < argc; i++) {
            long n = *p == '$' ? strtol(p + 1, &end, 10) : -1;
            if (n < 0 || end + 2 + n + 2 > buf + len)
                return used;
            argv[i] = end + 2;
            argv[i][n] = '\0';
            p = end + 2 + n + 2;
        }
        execute(argv, (int)argc, reply, sizeof(reply));
        if (write(fd, reply, strlen(reply)) < 0)
            return len;
        used = (size_t)(p - buf);
    }
}

static void *fake_redis(void *unused)
{
    struct pollfd fds[2 + CLIENTS_MAX];
    static char buf[CLIENTS_MAX][8192];
    size_t len[CLIENTS_MAX] = {0};
    nfds_t n = 2;

    (void)unused;
    fds[0] = (struct pollfd){fake.stop[0], POLLIN, 0};
    fds[1] = (struct pollfd){fake.listen_fd, POLLIN, 0};
    while (poll(fds, n, -1) > 0 && !(fds[0].revents & POLLIN)) {
        for (nfds_t i = 2; i < n; i++) {
            size_t c = i - 2;
            ssize_t got = 0;
            if (fds[i].revents && fds[i].fd >= 0 &&
                (got = read(fds[i].fd, buf[c] + len[c], sizeof(buf[c]) - 1 - len[c])) <= 0) {
                close(fds[i].fd);
                fds[i].fd = -1;
            } else if (got > 0) {
                size_t used;
                len[c] += (size_t)got;
                buf[c][len[c]] = '\0';
                used = serve(fds[i].fd, buf[c], len[c]);
                memmove(buf[c], buf[c] + used, len[c] - used);
                len[c] -= used;
            }
        }
        if ((fds[1].revents & POLLIN) && n < 2 + CLIENTS_MAX)
            fds[n++] = (struct pollfd){accept(fake.listen_fd, NULL, NULL), POLLIN, 0};
    }
    for (nfds_t i = 2; i < n; i++)
        if (fds[i].fd >= 0)
            close(fds[i].fd);
    return NULL;
}

/* ---- the processes ---- */

/* A handle on url, as one process holds it. */
static struct fl_redis *connect_to(const char *url)
{
    struct fl_redis_dsn dsn;
    struct fl_redis *r;

    if (fl_dsn_parse_redis(url, &dsn) != FL_OK)
        abort();
    r = fl_redis_new(&dsn, 1000);
    fl_dsn_redis_free(&dsn);
    return r;
}

/* What a process's check keeps of the value. */
struct seen {
    char value[64];
};

static bool value_there(void *ud, const struct fl_redis_reply *rep)
{
    struct seen *s = ud;

    if (rep[0].type != FL_REDIS_STR)
        return false;
    snprintf(s->value, sizeof(s->value), "%.*s", (int)rep[0].str.len, rep[0].str.p);
    return true;
}

static const struct fl_redis_cmd get_value = {2, {{"GET", 3}, {VALUE_KEY, sizeof(VALUE_KEY) - 1}}};

static struct fl_flight_check check_of(struct seen *s)
{
    return (struct fl_flight_check){&get_value, 1, value_there, s};
}

/* The stand-in's state: empty, no journal. */
static void reset(void)
{
    pthread_mutex_lock(&fake.mu);
    memset(fake.key, 0, sizeof(fake.key));
    fake.journal[0] = '\0';
    pthread_mutex_unlock(&fake.mu);
}

static bool stored(const char *key, const char *want)
{
    const char *v;
    bool same;

    pthread_mutex_lock(&fake.mu);
    v = find(key);
    same = want ? v && strcmp(v, want) == 0 : v == NULL;
    pthread_mutex_unlock(&fake.mu);
    return same;
}

/* Copies the journal to out and clears it. */
static void journal_take(char *out, size_t cap)
{
    pthread_mutex_lock(&fake.mu);
    snprintf(out, cap, "%s", fake.journal);
    fake.journal[0] = '\0';
    pthread_mutex_unlock(&fake.mu);
}

static struct fl_redis *a, *b;
static struct fl_arena *arena;

/* A deadline ms from now. */
static int64_t in_ms(int ms)
{
    return fl_time_mono_us() + (int64_t)ms * 1000;
}

static void test_one_makes_it_and_the_other_waits_for_it(void)
{
    struct seen seen_a = {""}, seen_b = {""};
    struct fl_flight_check ca = check_of(&seen_a), cb = check_of(&seen_b);
    struct fl_redis_cmd publish = {3,
                                   {{"SET", 3}, {VALUE_KEY, sizeof(VALUE_KEY) - 1}, {"page", 4}}};
    struct fl_flight fa, fb;
    enum fl_flight_state sa, sb;
    char journal[sizeof(fake.journal)];

    reset();
    ASSERT_EQ(fl_flight_take(&fa, a, arena, FL_STR(LOCK_KEY), 2000, &ca, &sa), FL_OK);
    ASSERT_EQ(sa, FL_FLIGHT_OURS);
    ASSERT_TRUE(fa.held);
    ASSERT_EQ(fl_flight_take(&fb, b, arena, FL_STR(LOCK_KEY), 2000, &cb, &sb), FL_OK);
    ASSERT_EQ(sb, FL_FLIGHT_BUSY);
    ASSERT_TRUE(!fb.held);
    /* The maker is still at it: the wait ends at its deadline, not later. */
    ASSERT_EQ(fl_flight_wait(&fb, b, arena, in_ms(20), 5000, &cb, &sb), FL_ETIMEOUT);
    journal_take(journal, sizeof(journal));
    ASSERT_EQ(fl_flight_land(&fa, a, arena, &publish), FL_OK);
    ASSERT_TRUE(!fa.held);
    ASSERT_TRUE(stored(VALUE_KEY, "page"));
    ASSERT_TRUE(stored(LOCK_KEY, NULL));
    /* The value is stored before the lock goes, and a wait reads the lock first. */
    journal_take(journal, sizeof(journal));
    ASSERT_STREQ(journal, "SET " VALUE_KEY "\nEVAL " LOCK_KEY "\n");
    ASSERT_EQ(fl_flight_wait(&fb, b, arena, in_ms(1000), 1000, &cb, &sb), FL_OK);
    ASSERT_EQ(sb, FL_FLIGHT_THERE);
    ASSERT_STREQ(seen_b.value, "page");
    journal_take(journal, sizeof(journal));
    ASSERT_STREQ(journal, "EXISTS " LOCK_KEY "\nGET " VALUE_KEY "\n");
}

static void test_a_maker_that_fails_lets_the_waiters_go(void)
{
    struct seen seen = {""};
    struct fl_flight_check check = check_of(&seen);
    struct fl_flight fa, fb;
    enum fl_flight_state sa, sb;

    reset();
    ASSERT_EQ(fl_flight_take(&fa, a, arena, FL_STR(LOCK_KEY), 2000, &check, &sa), FL_OK);
    ASSERT_EQ(fl_flight_take(&fb, b, arena, FL_STR(LOCK_KEY), 2000, &check, &sb), FL_OK);
    ASSERT_EQ(sb, FL_FLIGHT_BUSY);
    ASSERT_EQ(fl_flight_land(&fa, a, arena, NULL), FL_OK);
    ASSERT_EQ(fl_flight_wait(&fb, b, arena, in_ms(1000), 1000, &check, &sb), FL_OK);
    ASSERT_EQ(sb, FL_FLIGHT_GONE);
}

static void test_a_value_stored_meanwhile_is_taken_not_made(void)
{
    struct seen seen = {""};
    struct fl_flight_check check = check_of(&seen);
    struct fl_flight f;
    enum fl_flight_state state;

    /* The last maker stored it and let go between our look and our lock. */
    reset();
    pthread_mutex_lock(&fake.mu);
    put(VALUE_KEY, "built");
    pthread_mutex_unlock(&fake.mu);
    ASSERT_EQ(fl_flight_take(&f, a, arena, FL_STR(LOCK_KEY), 2000, &check, &state), FL_OK);
    ASSERT_EQ(state, FL_FLIGHT_THERE);
    ASSERT_STREQ(seen.value, "built");
    ASSERT_TRUE(!f.held);
    ASSERT_TRUE(stored(LOCK_KEY, NULL));
}

static void test_a_refused_lock_is_made_alone(void)
{
    struct seen seen = {""};
    struct fl_flight_check check = check_of(&seen);
    struct fl_flight f;
    enum fl_flight_state state;
    char journal[sizeof(fake.journal)];

    reset();
    ASSERT_EQ(fl_flight_take(&f, a, arena, FL_STR(REFUSED_KEY), 2000, &check, &state), FL_OK);
    ASSERT_EQ(state, FL_FLIGHT_ALONE);
    ASSERT_TRUE(!f.held);
    journal_take(journal, sizeof(journal));
    ASSERT_EQ(fl_flight_land(&f, a, arena, NULL), FL_OK);
    journal_take(journal, sizeof(journal));
    ASSERT_STREQ(journal, ""); /* nothing to release */
}

static void test_a_lock_that_is_another_s_now_is_not_released(void)
{
    struct seen seen = {""};
    struct fl_flight_check check = check_of(&seen);
    struct fl_flight f;
    enum fl_flight_state state;

    reset();
    ASSERT_EQ(fl_flight_take(&f, a, arena, FL_STR(LOCK_KEY), 2000, &check, &state), FL_OK);
    ASSERT_EQ(state, FL_FLIGHT_OURS);
    /* Ours expired, and another process took it. */
    pthread_mutex_lock(&fake.mu);
    put(LOCK_KEY, "another-process-token");
    pthread_mutex_unlock(&fake.mu);
    ASSERT_EQ(fl_flight_land(&f, a, arena, NULL), FL_OK);
    ASSERT_TRUE(stored(LOCK_KEY, "another-process-token"));
    ASSERT_TRUE(!f.held);
}

static void test_redis_down_each_process_makes_its_own(void)
{
    struct fl_redis *down = connect_to("unix:///nonexistent/fl-flight.sock");
    struct seen seen = {""};
    struct fl_flight_check check = check_of(&seen);
    struct fl_redis_cmd publish = {3, {{"SET", 3}, {VALUE_KEY, sizeof(VALUE_KEY) - 1}, {"x", 1}}};
    struct fl_flight f;
    enum fl_flight_state state;
    bool there = true;

    ASSERT_EQ(fl_flight_look(down, arena, &check, &there), FL_ECACHE);
    ASSERT_TRUE(!there);
    ASSERT_EQ(fl_flight_take(&f, down, arena, FL_STR(LOCK_KEY), 2000, &check, &state), FL_ECACHE);
    ASSERT_TRUE(!f.held);
    ASSERT_EQ(fl_flight_wait(&f, down, arena, in_ms(1000), 1000, &check, &state), FL_ECACHE);
    ASSERT_EQ(fl_flight_land(&f, down, arena, &publish), FL_ECACHE);
    fl_redis_free(down);
}

/* Listens on a unix socket in a temporary directory; returns its redis URL in url. */
static void start_fake(pthread_t *thread, char *url, size_t cap)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};

    if (mkdtemp(fake.dir) == NULL || pipe(fake.stop) != 0)
        abort();
    snprintf(fake.path, sizeof(fake.path), "%s/redis.sock", fake.dir);
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", fake.path);
    fake.listen_fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fake.listen_fd < 0 || bind(fake.listen_fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
        listen(fake.listen_fd, 8) != 0 || pthread_create(thread, NULL, fake_redis, NULL) != 0)
        abort();
    snprintf(url, cap, "unix://%s", fake.path);
}

static void stop_fake(pthread_t thread)
{
    if (write(fake.stop[1], "x", 1) != 1)
        abort();
    pthread_join(thread, NULL);
    close(fake.listen_fd);
    close(fake.stop[0]);
    close(fake.stop[1]);
    unlink(fake.path);
    rmdir(fake.dir);
}

int main(void)
{
    pthread_t thread;
    char url[96];

    start_fake(&thread, url, sizeof(url));
    a = connect_to(url);
    b = connect_to(url);
    arena = fl_arena_new(1 << 20);
    test_one_makes_it_and_the_other_waits_for_it();
    test_a_maker_that_fails_lets_the_waiters_go();
    test_a_value_stored_meanwhile_is_taken_not_made();
    test_a_refused_lock_is_made_alone();
    test_a_lock_that_is_another_s_now_is_not_released();
    test_redis_down_each_process_makes_its_own();
    fl_redis_free(a);
    fl_redis_free(b);
    fl_arena_free(arena);
    stop_fake(thread);
    return fl_test_done("test_flight");
}
