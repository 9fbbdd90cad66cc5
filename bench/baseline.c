/*
 * The baseline for SPEC §10: a minimal C libpq client that connects, runs one
 * statement with bound parameters (unnamed, like todo's) and prints the rows
 * tab-separated. The benchmark feeds it the exact SQL todo sends, captured
 * from `todo --verbose` (bench/run.sh).
 *
 * usage: baseline URL SQLFILE [PARAM...]     (a PARAM of @null is NULL)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libpq-fe.h>

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s URL SQLFILE [PARAM...]\n", argv[0]);
        return 2;
    }
    FILE *f = fopen(argv[2], "r");
    if (!f) { perror(argv[2]); return 2; }
    static char sql[65536];
    size_t n = fread(sql, 1, sizeof sql - 1, f);
    fclose(f);
    sql[n] = '\0';

    int nparams = argc - 3;
    const char **values = calloc(nparams > 0 ? nparams : 1, sizeof *values);
    for (int i = 0; i < nparams; i++)
        values[i] = strcmp(argv[3 + i], "@null") == 0 ? NULL : argv[3 + i];

    PGconn *conn = PQconnectdb(argv[1]);
    if (PQstatus(conn) != CONNECTION_OK) {
        fprintf(stderr, "error: %s", PQerrorMessage(conn));
        return 5;
    }
    PGresult *res = PQexecParams(conn, sql, nparams, NULL, values, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(res);
    if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
        fprintf(stderr, "error: %s", PQerrorMessage(conn));
        return 1;
    }
    int rows = PQntuples(res), cols = PQnfields(res);
    for (int r = 0; r < rows; r++) {
        for (int c = 0; c < cols; c++) {
            if (c) putchar('\t');
            if (!PQgetisnull(res, r, c)) fputs(PQgetvalue(res, r, c), stdout);
        }
        putchar('\n');
    }
    PQclear(res);
    PQfinish(conn);
    return 0;
}
