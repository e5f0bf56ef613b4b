/*
 * Integration-test helpers: spawns the mock Kafka helper with pipes (it exits when our end of the
 * pipe closes, so a crashed test leaves nothing behind) and reads the servers' env file.
 */
#include "harness.h"

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static bool
read_line(int fd, char *buf, size_t n)
{
    size_t k = 0;
    while (k + 1 < n) {
        char c;
        ssize_t r = read(fd, &c, 1);
        if (r <= 0)
            return false;
        if (c == '\n')
            break;
        buf[k++] = c;
    }
    buf[k] = '\0';
    return true;
}

bool
harness_kafka_start(harness_kafka_t *k)
{
    const char *bin = getenv("CDC_MOCK_KAFKA");
    int in[2], out[2];
    if (!bin || pipe(in) || pipe(out))
        return false;
    memset(k, 0, sizeof(*k));
    k->pid = fork();
    if (k->pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        close(in[1]);
        close(out[0]);
        execl(bin, bin, "3", (char *)NULL);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    k->to_child = in[1];
    k->from_child = out[0];
    char line[600];
    if (!read_line(k->from_child, line, sizeof(line)) || strncmp(line, "bootstrap=", 10))
        return false;
    snprintf(k->bootstrap, sizeof(k->bootstrap), "%s", line + 10);
    return read_line(k->from_child, line, sizeof(line)) && !strcmp(line, "ready");
}

bool
harness_kafka_cmd(harness_kafka_t *k, const char *fmt, ...)
{
    char cmd[1024], answer[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(cmd, sizeof(cmd) - 1, fmt, ap);
    va_end(ap);
    cmd[n++] = '\n';
    if (write(k->to_child, cmd, (size_t)n) != n)
        return false;
    return read_line(k->from_child, answer, sizeof(answer)) && !strcmp(answer, "ok");
}

void
harness_kafka_stop(harness_kafka_t *k)
{
    if (k->pid <= 0)
        return;
    close(k->to_child);
    close(k->from_child);
    int status;
    for (int i = 0; i < 50; i++) {
        if (waitpid(k->pid, &status, WNOHANG) == k->pid) {
            k->pid = 0;
            return;
        }
        usleep(100000);
    }
    kill(k->pid, SIGKILL);
    waitpid(k->pid, &status, 0);
    k->pid = 0;
}

/* Values handed out by harness_env stay reachable from here until exit. */
char *harness_kept[64];
size_t harness_n_kept;

const char *
harness_env(const char *name)
{
    const char *v = getenv(name);
    if (v)
        return v;
    const char *dir = getenv("CDC_HARNESS_DIR");
    char path[1024], line[1024];
    if (!dir)
        return NULL;
    snprintf(path, sizeof(path), "%s/env", dir);
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    size_t len = strlen(name);
    char *found = NULL;
    while (!found && fgets(line, sizeof(line), f)) {
        if (!strncmp(line, name, len) && line[len] == '=') {
            line[strcspn(line, "\n")] = '\0';
            found = strdup(line + len + 1);
        }
    }
    fclose(f);
    if (found && harness_n_kept < 64)
        harness_kept[harness_n_kept++] = found;
    return found;
}
