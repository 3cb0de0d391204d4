"""A corpus of Flink SQL statements, run once on real PyFlink 2.3 to freeze what it prints
(``expected.txt``) and checked against nbstream by ``tests/test_table_corpus.py``.

Regenerate (real PyFlink, Java 17; about 5 minutes on a 2-core machine):

    TZ=UTC PYTHONUNBUFFERED=1 python tests/table_corpus/generate.py > tests/table_corpus/expected.txt

Each case: ``(name, mode, statement, compare)``: ``mode`` streaming/batch, ``compare``
``"lines"`` (same text, line by line), ``"rows"`` (the same table rows in any order:
Flink's output order is not fixed there) or ``"final"`` (the same rows once the changelog
is applied: the changelog itself depends on how two inputs interleave). Every case runs at parallelism 1 in the
session time zone UTC, after ``DDL`` declared the tables over ``data/``.
"""

from __future__ import annotations

from typing import List, Tuple

DDL = [
    """CREATE TABLE clicks (
        `user` STRING, url STRING, ts TIMESTAMP(3), amount INT, price DECIMAL(10, 2),
        WATERMARK FOR ts AS ts - INTERVAL '2' SECOND
    ) WITH ('connector' = 'filesystem', 'path' = '{data}/clicks.csv', 'format' = 'csv')""",
    """CREATE TABLE clicks_plain (
        `user` STRING, url STRING, ts TIMESTAMP(3), amount INT, price DECIMAL(10, 2),
        big AS amount * 2
    ) WITH ('connector' = 'filesystem', 'path' = '{data}/clicks.csv', 'format' = 'csv')""",
    """CREATE TABLE orders (
        id INT, `user` STRING, currency STRING, ts TIMESTAMP(3), amount INT,
        WATERMARK FOR ts AS ts
    ) WITH ('connector' = 'filesystem', 'path' = '{data}/orders.csv', 'format' = 'csv')""",
    """CREATE TABLE rates (
        currency STRING, rate DECIMAL(5, 2), ts TIMESTAMP(3),
        WATERMARK FOR ts AS ts,
        PRIMARY KEY (currency) NOT ENFORCED
    ) WITH ('connector' = 'filesystem', 'path' = '{data}/rates.csv', 'format' = 'csv')""",
    """CREATE TABLE users (
        name STRING, country STRING, age INT
    ) WITH ('connector' = 'filesystem', 'path' = '{data}/users.csv', 'format' = 'csv')""",
    """CREATE TABLE late (
        k STRING, ts TIMESTAMP(3), v INT,
        WATERMARK FOR ts AS ts - INTERVAL '1' SECOND
    ) WITH ('connector' = 'filesystem', 'path' = '{data}/late.csv', 'format' = 'csv')""",
    """CREATE TEMPORARY VIEW nums AS SELECT * FROM (VALUES
        (1, 'a', CAST(1.5 AS DOUBLE)), (2, 'b', CAST(NULL AS DOUBLE)), (3, 'a', CAST(-2.25 AS DOUBLE)),
        (4, CAST(NULL AS STRING), CAST(10 AS DOUBLE)), (5, 'b', CAST(0.5 AS DOUBLE))) AS t(n, k, x)""",
    """CREATE TABLE printed (
        k STRING, n BIGINT
    ) WITH ('connector' = 'print')""",
    """CREATE TABLE printed_ltz (
        `user` STRING, t TIMESTAMP_LTZ(3), ts0 TIMESTAMP(0)
    ) WITH ('connector' = 'print')""",
    """CREATE TABLE printed_ts (
        `user` STRING, ts TIMESTAMP(3), price DECIMAL(10, 2), ok BOOLEAN, f FLOAT
    ) WITH ('connector' = 'print', 'print-identifier' = 'out')""",
]

S, B = "streaming", "batch"
LINES, ROWS, FINAL = "lines", "rows", "final"

CASES: List[Tuple[str, str, str, str]] = [
    # -- values, types and printing ----------------------------------------------------------
    ("literals", S, "SELECT TRUE, 1, CAST(1 AS TINYINT), CAST(2 AS SMALLINT), CAST(3 AS BIGINT), "
     "1.5, 1e3, CAST(1.23 AS FLOAT), 'abc', DATE '2024-01-02', TIME '12:34:56', "
     "TIMESTAMP '2024-01-02 03:04:05.123', CAST('2024-02-29 13:45:01.5' AS TIMESTAMP(3))", LINES),
    ("literals_batch", B, "SELECT TRUE, 1, 1.5, 'abc', CAST(NULL AS INT) AS n, "
     "CAST(NULL AS STRING) AS s, CAST(NULL AS BOOLEAN) AS b", LINES),
    ("char_width", S, "SELECT 'x' AS s, 'abcdefghij' AS t, CAST('x' AS VARCHAR(3)) AS v", LINES),
    ("long_string", S, "SELECT 'aaaaaaaaaabbbbbbbbbbccccccccccdddddddddd' AS long_value", LINES),
    ("collections", S, "SELECT ARRAY[1, 2, 3], ARRAY[1, 2, 3][1], CARDINALITY(ARRAY[1, 2]), "
     "MAP['a', 1, 'b', 2], MAP['a', 1, 'b', 2]['b'], ROW(1, 'x')", LINES),
    ("doubles", S, "SELECT CAST(0.1 AS DOUBLE) + CAST(0.2 AS DOUBLE), CAST(1e20 AS DOUBLE), "
     "CAST(100 AS DOUBLE), CAST(1.0E-5 AS DOUBLE), POWER(2, 10), SQRT(16), CAST(28.8 AS FLOAT)",
     LINES),
    ("arithmetic", B, "SELECT 7 / 2, -7 / 2, 7.0 / 2, 7 / 2.0, CAST(10 AS DECIMAL(10,2)) / 3, "
     "1.1 + 2.20, CAST(1.005 AS DECIMAL(10,3)) * 2, 0.1 + 0.2, MOD(-7, 3), -7 % 3, "
     "2147483647 + 1", LINES),
    ("rounding", B, "SELECT ROUND(2.5, 0), ROUND(-2.5, 0), ROUND(1.2345, 2), "
     "ROUND(CAST(2.5 AS DOUBLE), 0), FLOOR(-1.5), CEIL(1.2), TRUNCATE(1.789, 1), SIGN(-4.2), "
     "ABS(-3), CAST(123.456 AS DECIMAL(5,1))", LINES),
    ("casts", B, "SELECT CAST(3.99 AS INT), CAST(-3.99 AS INT), CAST(1 AS BOOLEAN), "
     "CAST(TRUE AS INT), CAST(12.5 AS STRING), CAST(CAST(100 AS DOUBLE) AS STRING), "
     "CAST(CAST(1e20 AS DOUBLE) AS STRING), TRY_CAST('x' AS INT), CAST('42' AS INT), "
     "CAST(5 AS DECIMAL)", LINES),
    ("nulls", B, "SELECT CAST(NULL AS INT) + 1, CAST(NULL AS INT) = CAST(NULL AS INT), "
     "TRUE AND CAST(NULL AS BOOLEAN), FALSE AND CAST(NULL AS BOOLEAN), "
     "TRUE OR CAST(NULL AS BOOLEAN), 'a' || CAST(NULL AS STRING), NULLIF(1, 1), "
     "CAST(NULL AS INT) IS DISTINCT FROM 1, CONCAT_WS('-', 'a', CAST(NULL AS STRING), 'b'), "
     "COALESCE(CAST(NULL AS INT), 2)", LINES),
    ("case_if_in", B, "SELECT CASE WHEN 1 > 2 THEN 'x' END, CASE 2 WHEN 1 THEN 'one' WHEN 2 "
     "THEN 'two' ELSE 'many' END, IF(1 < 2, 'yes', 'no'), 3 BETWEEN 2 AND 3, 2 IN (1, 2, 3), "
     "4 NOT IN (1, 2), 'abc' LIKE 'a%', 'abc' LIKE '_b_'", LINES),
    ("strings", B, "SELECT SUBSTRING('hello world', 2, 4), SUBSTR('hello', 3), "
     "POSITION('lo' IN 'hello'), CHAR_LENGTH('héllo'), LPAD('7', 3, '0'), RPAD('ab', 4, '*'), "
     "INITCAP('hello flink'), SPLIT_INDEX('a,b,c', ',', 1), REGEXP_EXTRACT('abc123', '(\\d+)', 1), "
     "REPLACE('aXbX', 'X', '-'), UPPER('a'), LOWER('B'), TRIM('  x  '), REVERSE('abc'), "
     "REPEAT('ab', 2)", LINES),
    ("temporal", B, "SELECT DATE_FORMAT(TIMESTAMP '2024-03-05 07:08:09', 'yyyy/MM/dd HH:mm'), "
     "EXTRACT(DOW FROM DATE '2024-03-05'), EXTRACT(YEAR FROM DATE '2024-03-05'), "
     "DATE '2024-03-05' + INTERVAL '30' DAY, TIMESTAMP '2024-03-05 23:00:00' + INTERVAL '2' HOUR, "
     "TIMESTAMPDIFF(MINUTE, TIMESTAMP '2024-01-01 10:00:00', TIMESTAMP '2024-01-01 11:30:59'), "
     "TIMESTAMPADD(MONTH, 1, DATE '2024-01-31'), "
     "FLOOR(TIMESTAMP '2024-03-05 07:08:09' TO HOUR), CEIL(TIMESTAMP '2024-03-05 07:08:09' TO DAY), "
     "TO_TIMESTAMP('2024-03-05 07:08:09'), UNIX_TIMESTAMP('2024-03-05 00:00:00'), "
     "FROM_UNIXTIME(0), QUARTER(DATE '2024-05-01'), HOUR(TIMESTAMP '2024-03-05 07:08:09')", LINES),
    ("json", B, "SELECT JSON_VALUE('{\"a\": {\"b\": 2}}', '$.a.b'), "
     "JSON_VALUE('{\"a\": 1}', '$.x')", LINES),
    ("json_returning", B, "SELECT JSON_VALUE('{\"a\": 7}', '$.a' RETURNING INT) AS i", LINES),
    ("ltz", B, "SELECT TO_TIMESTAMP_LTZ(1500, 3) AS t, CAST(TO_TIMESTAMP_LTZ(0, 3) AS STRING) AS s",
     LINES),
    # -- scans, projections, DDL -------------------------------------------------------------
    ("scan", S, "SELECT * FROM clicks", LINES),
    ("scan_computed", S, "SELECT `user`, amount, big FROM clicks_plain WHERE amount > 2", LINES),
    ("scan_batch", B, "SELECT `user`, url, price * 2 AS p FROM clicks WHERE url = '/home'", LINES),
    ("describe", S, "DESCRIBE clicks", LINES),
    ("describe_computed", S, "DESCRIBE clicks_plain", LINES),
    ("show_tables", S, "SHOW TABLES", LINES),
    ("values_mixed", S, "SELECT * FROM (VALUES (1, 1.5), (2, 2.25)) AS t(a, b)", LINES),
    ("values_unnamed", S, "SELECT * FROM (VALUES (1, 'x'))", LINES),
    # -- group aggregation --------------------------------------------------------------------
    ("group_changelog", S, "SELECT `user`, COUNT(*) AS c, SUM(amount) AS s, MAX(price) AS m "
     "FROM clicks GROUP BY `user`", LINES),
    ("group_unnamed", S, "SELECT url, COUNT(*), AVG(amount), MIN(price) FROM clicks GROUP BY url",
     LINES),
    ("group_batch", B, "SELECT `user`, COUNT(*) AS c, SUM(amount) AS s, AVG(price) AS a "
     "FROM clicks GROUP BY `user`", ROWS),
    ("group_distinct_filter", S, "SELECT url, COUNT(DISTINCT `user`) AS users, "
     "SUM(amount) FILTER (WHERE amount > 2) AS big FROM clicks GROUP BY url", LINES),
    ("group_having", S, "SELECT `user`, SUM(amount) AS s FROM clicks GROUP BY `user` "
     "HAVING SUM(amount) > 5", LINES),
    ("global_agg", S, "SELECT COUNT(*), SUM(amount), AVG(amount) FROM clicks", LINES),
    ("agg_of_agg", S, "SELECT c, COUNT(*) AS n FROM (SELECT `user`, COUNT(*) AS c FROM clicks "
     "GROUP BY `user`) GROUP BY c", LINES),
    ("agg_nulls", B, "SELECT k, COUNT(*), COUNT(x), SUM(x), AVG(x), MIN(x), MAX(x) FROM nums "
     "GROUP BY k", ROWS),
    ("distinct", S, "SELECT DISTINCT url FROM clicks", LINES),
    ("listagg_first_last", S, "SELECT url, LISTAGG(`user`), FIRST_VALUE(amount), "
     "LAST_VALUE(amount) FROM clicks GROUP BY url", LINES),
    ("stddev", B, "SELECT STDDEV_POP(x), STDDEV_SAMP(x), VAR_POP(x), VAR_SAMP(x) FROM nums", LINES),
    # -- window TVFs ---------------------------------------------------------------------------
    ("tumble_tvf", S, "SELECT * FROM TABLE(TUMBLE(TABLE clicks, DESCRIPTOR(ts), "
     "INTERVAL '10' SECOND))", LINES),
    ("tumble_agg", S, "SELECT window_start, window_end, `user`, COUNT(*) AS c, SUM(price) AS p "
     "FROM TABLE(TUMBLE(TABLE clicks, DESCRIPTOR(ts), INTERVAL '10' SECOND)) "
     "GROUP BY window_start, window_end, `user`", ROWS),
    ("tumble_agg_time", S, "SELECT window_start, window_time, COUNT(*) AS c "
     "FROM TABLE(TUMBLE(TABLE clicks, DESCRIPTOR(ts), INTERVAL '10' SECOND)) "
     "GROUP BY window_start, window_end, window_time", LINES),
    ("hop_agg", S, "SELECT window_start, window_end, SUM(amount) AS s "
     "FROM TABLE(HOP(TABLE clicks, DESCRIPTOR(ts), INTERVAL '5' SECOND, INTERVAL '10' SECOND)) "
     "GROUP BY window_start, window_end", LINES),
    ("cumulate_agg", S, "SELECT window_start, window_end, COUNT(*) AS c "
     "FROM TABLE(CUMULATE(TABLE clicks, DESCRIPTOR(ts), INTERVAL '5' SECOND, INTERVAL '20' SECOND)) "
     "GROUP BY window_start, window_end", LINES),
    ("session_agg", S, "SELECT window_start, window_end, `user`, COUNT(*) AS c "
     "FROM TABLE(SESSION(TABLE clicks PARTITION BY `user`, DESCRIPTOR(ts), INTERVAL '6' SECOND)) "
     "GROUP BY window_start, window_end, `user`", ROWS),
    ("late_rows", S, "SELECT window_start, k, COUNT(*) AS c, SUM(v) AS s "
     "FROM TABLE(TUMBLE(TABLE late, DESCRIPTOR(ts), INTERVAL '10' SECOND)) "
     "GROUP BY window_start, window_end, k", ROWS),
    ("late_rows_tvf", S, "SELECT k, v, window_start FROM TABLE(TUMBLE(TABLE late, "
     "DESCRIPTOR(ts), INTERVAL '10' SECOND))", LINES),
    ("window_topn", S, "SELECT * FROM (SELECT window_start, `user`, c, ROW_NUMBER() OVER "
     "(PARTITION BY window_start, window_end ORDER BY c DESC, `user`) AS rn FROM ("
     "SELECT window_start, window_end, `user`, COUNT(*) AS c FROM TABLE(TUMBLE(TABLE clicks, "
     "DESCRIPTOR(ts), INTERVAL '10' SECOND)) GROUP BY window_start, window_end, `user`)) "
     "WHERE rn <= 1", ROWS),
    ("tumble_batch", B, "SELECT window_start, COUNT(*) AS c FROM TABLE(TUMBLE(TABLE clicks, "
     "DESCRIPTOR(ts), INTERVAL '10' SECOND)) GROUP BY window_start, window_end", ROWS),
    # -- OVER -----------------------------------------------------------------------------------
    ("over_rows", S, "SELECT `user`, amount, SUM(amount) OVER (PARTITION BY `user` ORDER BY ts "
     "ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) AS s FROM clicks", LINES),
    ("over_range", S, "SELECT `user`, amount, COUNT(*) OVER (PARTITION BY `user` ORDER BY ts "
     "RANGE BETWEEN INTERVAL '10' SECOND PRECEDING AND CURRENT ROW) AS c, AVG(amount) OVER "
     "(PARTITION BY `user` ORDER BY ts RANGE BETWEEN INTERVAL '10' SECOND PRECEDING AND "
     "CURRENT ROW) AS a FROM clicks", LINES),
    ("over_unbounded", S, "SELECT url, MAX(price) OVER (PARTITION BY url ORDER BY ts) AS m "
     "FROM clicks", LINES),
    # -- Top-N / dedup -----------------------------------------------------------------------
    ("topn_rank", S, "SELECT * FROM (SELECT `user`, url, amount, ROW_NUMBER() OVER (PARTITION "
     "BY url ORDER BY amount DESC) AS rn FROM clicks_plain) WHERE rn <= 2", LINES),
    ("topn_norank", S, "SELECT `user`, url, amount FROM (SELECT *, ROW_NUMBER() OVER (PARTITION "
     "BY url ORDER BY amount DESC) AS rn FROM clicks_plain) WHERE rn <= 2", LINES),
    ("dedup_first", S, "SELECT `user`, url, ts FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY "
     "`user` ORDER BY ts ASC) AS rn FROM clicks) WHERE rn = 1", LINES),
    ("dedup_last", S, "SELECT `user`, url, ts FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY "
     "`user` ORDER BY ts DESC) AS rn FROM clicks) WHERE rn = 1", LINES),
    # -- joins ---------------------------------------------------------------------------------
    ("join_inner", S, "SELECT o.id, o.`user`, u.country FROM orders o JOIN users u "
     "ON o.`user` = u.name", ROWS),
    ("join_left", S, "SELECT o.id, u.name, u.age FROM orders o LEFT JOIN users u "
     "ON o.`user` = u.name", FINAL),
    ("join_full_batch", B, "SELECT o.id, u.name FROM orders o FULL JOIN users u "
     "ON o.`user` = u.name", ROWS),
    ("join_interval", S, "SELECT o.id, c.url FROM orders o, clicks c WHERE o.`user` = c.`user` "
     "AND c.ts BETWEEN o.ts - INTERVAL '5' SECOND AND o.ts", ROWS),
    ("join_temporal", S, "SELECT o.id, o.currency, r.rate, o.amount * r.rate AS v FROM orders o "
     "LEFT JOIN rates FOR SYSTEM_TIME AS OF o.ts AS r ON o.currency = r.currency", ROWS),
    ("join_window", S, "SELECT l.window_start, l.`user`, l.c, r.n FROM ("
     "SELECT window_start, window_end, `user`, COUNT(*) AS c FROM TABLE(TUMBLE(TABLE clicks, "
     "DESCRIPTOR(ts), INTERVAL '10' SECOND)) GROUP BY window_start, window_end, `user`) l "
     "JOIN (SELECT window_start, window_end, `user`, SUM(amount) AS n FROM TABLE(TUMBLE("
     "TABLE orders, DESCRIPTOR(ts), INTERVAL '10' SECOND)) GROUP BY window_start, window_end, "
     "`user`) r ON l.`user` = r.`user` AND l.window_start = r.window_start AND "
     "l.window_end = r.window_end", ROWS),
    # -- set operations, ordering, subqueries ------------------------------------------------
    ("union_all", S, "SELECT `user` FROM orders UNION ALL SELECT name FROM users", ROWS),
    ("union", B, "SELECT `user` FROM orders UNION SELECT name FROM users", ROWS),
    ("order_limit_batch", B, "SELECT `user`, amount FROM clicks ORDER BY amount DESC, `user` "
     "LIMIT 3", LINES),
    ("limit_streaming", S, "SELECT `user`, url FROM clicks LIMIT 3", LINES),
    ("cte", S, "WITH big AS (SELECT * FROM clicks WHERE amount >= 3) "
     "SELECT `user`, COUNT(*) AS c FROM big GROUP BY `user`", LINES),
    ("subquery", B, "SELECT t.u, t.s FROM (SELECT `user` AS u, SUM(amount) AS s FROM clicks "
     "GROUP BY `user`) AS t WHERE t.s > 3", ROWS),
    # -- sinks -----------------------------------------------------------------------------------
    ("print_sink", S, "INSERT INTO printed SELECT `user`, COUNT(*) FROM clicks GROUP BY `user`",
     LINES),
    ("print_sink_values", S, "INSERT INTO printed_ts SELECT `user`, ts, price, amount > 2, "
     "CAST(price AS FLOAT) FROM clicks WHERE amount >= 4", LINES),
    ("insert_result", S, "EXECUTE STATEMENT SET BEGIN INSERT INTO printed SELECT url, "
     "CAST(amount AS BIGINT) FROM clicks WHERE amount > 4; END", LINES),
    ("insert_two", S, "EXECUTE STATEMENT SET BEGIN INSERT INTO printed SELECT url, "
     "CAST(amount AS BIGINT) FROM clicks WHERE amount > 5; INSERT INTO printed_ts SELECT "
     "`user`, ts, price, TRUE, CAST(1.5 AS FLOAT) FROM clicks WHERE amount > 5; END", ROWS),
    ("print_ltz", S, "INSERT INTO printed_ltz SELECT `user`, TO_TIMESTAMP_LTZ(1704103205000, 3), "
     "CAST(ts AS TIMESTAMP(0)) FROM clicks WHERE amount = 6", LINES),
]
