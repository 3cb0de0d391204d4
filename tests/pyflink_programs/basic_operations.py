"""Basic operations on typed rows: map, filter, key_by and a rolling sum, each printed
by its own job (PyFlink's documented DataStream API)."""

import json

from pyflink.common import Row, Types
from pyflink.datastream import StreamExecutionEnvironment

ORDERS = [
    (1, '{"item": "apple", "qty": 3, "shop": {"city": "Lyon", "country": "FR"}}'),
    (2, '{"item": "pear", "qty": 5, "shop": {"city": "Porto", "country": "PT"}}'),
    (3, '{"item": "plum", "qty": 2, "shop": {"city": "Paris", "country": "FR"}}'),
    (4, '{"item": "fig", "qty": 7, "shop": {"city": "Braga", "country": "PT"}}'),
]


def run(ds, env):
    ds.print()
    env.execute()


def double_qty(row):
    order = json.loads(row.info)
    order["qty"] *= 2
    return row.id, json.dumps(order, sort_keys=True)


def main():
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(1)
    ds = env.from_collection(ORDERS, type_info=Types.ROW_NAMED(["id", "info"],
                                                               [Types.INT(), Types.STRING()]))
    run(ds, env)
    run(ds.map(double_qty), env)
    run(ds.filter(lambda row: row.id % 2 == 0).map(double_qty), env)
    per_country = ds.map(lambda row: (json.loads(row.info)["shop"]["country"],
                                      json.loads(row.info)["qty"]),
                         output_type=Types.TUPLE([Types.STRING(), Types.INT()]))
    run(per_country.key_by(lambda t: t[0]).sum(1), env)
    run(ds.map(lambda row: Row(row.id, len(row.info), row.id * 1.5),
               output_type=Types.ROW([Types.INT(), Types.INT(), Types.DOUBLE()])), env)


if __name__ == "__main__":
    main()
