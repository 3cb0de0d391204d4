"""BATCH runtime mode with a broadcast stream: every parallel instance of the
broadcast-connected step sees every broadcast element, and the step runs at the
environment's parallelism (Flink's adaptive batch scheduler leaves such steps alone;
a plain map of the same small input runs at 1).

Expected output (batch_broadcast.expected) made on apache-flink 2.3.0 with
``python tests/pyflink_programs/batch_broadcast.py > tests/pyflink_programs/batch_broadcast.expected``.
"""

from pyflink.common import Types
from pyflink.datastream import RuntimeExecutionMode, StreamExecutionEnvironment
from pyflink.datastream.functions import (BroadcastProcessFunction, KeyedBroadcastProcessFunction,
                                          MapFunction, RuntimeContext)
from pyflink.datastream.state import MapStateDescriptor

MAPPING = MapStateDescriptor("mapping", Types.INT(), Types.STRING())


class Lookup(BroadcastProcessFunction):
    """Values wait for the broadcast mapping of their key (value % 2)."""

    def open(self, runtime_context: RuntimeContext):
        self.instances = runtime_context.get_number_of_parallel_subtasks()
        self.waiting = {}

    def process_element(self, value, ctx):
        mapping = ctx.get_broadcast_state(MAPPING)
        key = value % 2
        if mapping.contains(key):
            yield f"{mapping.get(key)}{value} of {self.instances}"
        else:
            self.waiting.setdefault(key, []).append(value)

    def process_broadcast_element(self, value, ctx):
        ctx.get_broadcast_state(MAPPING).put(value[0], value[1])
        yield f"{value[0]}{value[1]} of {self.instances}"
        for waiting in self.waiting.pop(value[0], []):
            yield f"{value[1]}{waiting} of {self.instances}"


class KeyedLookup(KeyedBroadcastProcessFunction):
    def open(self, runtime_context: RuntimeContext):
        self.instances = runtime_context.get_number_of_parallel_subtasks()

    def process_element(self, value, ctx):
        yield f"keyed {value} of {self.instances}"

    def process_broadcast_element(self, value, ctx):
        yield f"keyed broadcast {value[1]} of {self.instances}"


class Instances(MapFunction):
    def __init__(self, what):
        self.what = what

    def open(self, runtime_context: RuntimeContext):
        self.instances = runtime_context.get_number_of_parallel_subtasks()

    def map(self, value):
        return f"{self.what} of {self.instances}"


def main():
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_runtime_mode(RuntimeExecutionMode.BATCH)
    env.set_parallelism(2)
    numbers = env.from_collection([1, 2, 3, 4, 5], type_info=Types.INT())
    mapping = env.from_collection([(0, "a"), (1, "b")],
                                  type_info=Types.TUPLE([Types.INT(), Types.STRING()]))
    looked_up = numbers.connect(mapping.broadcast(MAPPING)).process(Lookup(), Types.STRING())
    after = looked_up.map(Instances("the step after it"), Types.STRING())
    keyed = numbers.key_by(lambda v: v % 2, key_type=Types.INT()) \
        .connect(mapping.broadcast(MAPPING)).process(KeyedLookup(), Types.STRING())
    plain = numbers.map(Instances("a plain map"), Types.STRING())
    for line in sorted(looked_up.union(after, keyed, plain).execute_and_collect()):
        print(line)


if __name__ == "__main__":
    main()
