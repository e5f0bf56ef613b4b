/*
 * MySQL / MariaDB connection helpers shared by the binlog source and the sink.
 */
#ifndef CDC_MYSQL_H
#define CDC_MYSQL_H

#include <mysql.h>

#include "cdc/config.h"
#include "cdc/err.h"

/* Opens a session with the contract's settings (time_zone '+00:00', utf8mb4). On failure returns
 * NULL, es says "mysql HOST:PORT: cause (errno)"; CDC_ERR_AUTH for credentials. The caller
 * mysql_close()s the result. */
MYSQL *cdc_mysql_connect(const cdc_db_conn_t *conn, cdc_err_t *err, cdc_errstr_t *es);

#endif
