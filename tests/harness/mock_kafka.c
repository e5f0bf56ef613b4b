/*
 * cdc-mock-kafka: librdkafka's mock cluster as a separate process, so a test can kill the agent
 * without losing the Kafka log. Prints "bootstrap=<servers>" then "ready", and then serves one
 * command per stdin line, answering "ok" or "error <why>":
 *   topic NAME PARTITIONS          create a topic (replication factor 3)
 *   down BROKER_ID | up BROKER_ID  take a broker down / bring it back
 *   errors APIKEY CODE [CODE...]   fail the next requests of that API with these error codes
 *   quit                           exit (so does end of input: the test that started it is gone)
 */
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdc/kafka.h"

static int
cmd_errors(rd_kafka_mock_cluster_t *mc, char *args)
{
    char *tok = strtok(args, " \t\n");
    if (!tok)
        return -1;
    int16_t apikey = (int16_t)atoi(tok);
    rd_kafka_resp_err_t errs[64];
    size_t n = 0;
    while (n < 64 && (tok = strtok(NULL, " \t\n")))
        errs[n++] = (rd_kafka_resp_err_t)atoi(tok);
    if (!n)
        return -1;
    rd_kafka_mock_push_request_errors_array(mc, apikey, n, errs);
    return 0;
}

static int
serve_line(rd_kafka_mock_cluster_t *mc, char *line)
{
    char name[512];
    int a = 0;
    if (sscanf(line, "topic %511s %d", name, &a) == 2) {
        rd_kafka_resp_err_t e = rd_kafka_mock_topic_create(mc, name, a, 3);
        if (e && e != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
            printf("error %s\n", rd_kafka_err2str(e));
            return 0;
        }
    } else if (sscanf(line, "down %d", &a) == 1) {
        rd_kafka_mock_broker_set_down(mc, a);
    } else if (sscanf(line, "up %d", &a) == 1) {
        rd_kafka_mock_broker_set_up(mc, a);
    } else if (strncmp(line, "errors ", 7) == 0) {
        if (cmd_errors(mc, line + 7)) {
            printf("error usage: errors APIKEY CODE [CODE...]\n");
            return 0;
        }
    } else if (strncmp(line, "quit", 4) == 0) {
        return 1;
    } else {
        printf("error unknown command\n");
        return 0;
    }
    printf("ok\n");
    return 0;
}

int
main(int argc, char **argv)
{
    int brokers = argc > 1 ? atoi(argv[1]) : 3;
    char errstr[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "log_level", "3", NULL, 0);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    if (!rk) {
        fprintf(stderr, "cdc-mock-kafka: %s\n", errstr);
        return 1;
    }
    rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(rk, brokers > 0 ? brokers : 3);
    if (!mc) {
        fprintf(stderr, "cdc-mock-kafka: cannot create the mock cluster\n");
        return 1;
    }
    cdc_kafka_mock_nodelay();
    setvbuf(stdout, NULL, _IOLBF, 0);
    printf("bootstrap=%s\nready\n", rd_kafka_mock_cluster_bootstraps(mc));
    char line[4096];
    while (fgets(line, sizeof(line), stdin))
        if (serve_line(mc, line))
            break;
    rd_kafka_mock_cluster_destroy(mc);
    rd_kafka_destroy(rk);
    return 0;
}
