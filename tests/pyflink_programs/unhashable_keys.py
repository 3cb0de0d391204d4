"""Keys that Python cannot hash (a list, a dict): PyFlink keys by the serialized value, so
they work as any key: the key's state, its current key, rolling and BATCH reduces.

Expected output (unhashable_keys.expected) made on apache-flink 2.3.0 with
``python tests/pyflink_programs/unhashable_keys.py > tests/pyflink_programs/unhashable_keys.expected``.
"""

from pyflink.common import Types
from pyflink.datastream import RuntimeExecutionMode, StreamExecutionEnvironment
from pyflink.datastream.functions import KeyedProcessFunction, RuntimeContext
from pyflink.datastream.state import ValueStateDescriptor

EVENTS = [("a", 1, 1), ("b", 2, 1), ("a", 3, 2), ("a", 4, 1), ("b", 5, 1)]


class Count(KeyedProcessFunction):
    def open(self, runtime_context: RuntimeContext):
        self.seen = runtime_context.get_state(ValueStateDescriptor("seen", Types.INT()))

    def process_element(self, value, ctx):
        seen = (self.seen.value() or 0) + 1
        self.seen.update(seen)
        yield f"key {ctx.get_current_key()!r} ({type(ctx.get_current_key()).__name__}): {seen}"


def run(mode):
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_runtime_mode(mode)
    env.set_parallelism(2)
    events = env.from_collection(EVENTS)
    counted = events.key_by(lambda e: [e[0], e[2]]).process(Count(), Types.STRING())
    summed = events.key_by(lambda e: {"name": e[0]}) \
        .reduce(lambda a, b: (a[0], a[1] + b[1], b[2])) \
        .map(lambda e: f"sum {e[0]} {e[1]}", Types.STRING())
    return sorted(counted.union(summed).execute_and_collect())


def main():
    for mode in (RuntimeExecutionMode.STREAMING, RuntimeExecutionMode.BATCH):
        for line in run(mode):
            print(f"{mode.name.lower()}: {line}")


if __name__ == "__main__":
    main()
