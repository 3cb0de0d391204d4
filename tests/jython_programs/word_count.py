"""WordCount as the old Flink Python streaming guide wrote it: a generator source,
a tokenizer, 50 ms processing-time windows and a reduce, printed with output().

Parameters (after `-`): ITERATIONS [LINGER_S] -- the generator emits the sentences
ITERATIONS times, then waits LINGER_S seconds so that the last window closes (windows
still open when the input ends do not fire, as in Flink)."""
import sys
import time

from org.apache.flink.api.common.functions import FlatMapFunction, ReduceFunction
from org.apache.flink.api.java.functions import KeySelector
from org.apache.flink.streaming.api.functions.source import SourceFunction
from org.apache.flink.streaming.api.windowing.time.Time import milliseconds

SENTENCES = ["Hello World", "to be or not to be", "the World is a stage"]


class Generator(SourceFunction):
    def __init__(self, num_iters, linger):
        self._running = True
        self._num_iters = num_iters
        self._linger = linger

    def run(self, ctx):
        counter = 0
        while self._running and counter < self._num_iters:
            for sentence in SENTENCES:
                ctx.collect(sentence)
            counter += 1
            if counter % 50 == 0:
                time.sleep(0.02)
        time.sleep(self._linger)

    def cancel(self):
        self._running = False


class Tokenizer(FlatMapFunction):
    def flatMap(self, value, collector):
        for word in value.lower().split():
            collector.collect((1, word))


class Selector(KeySelector):
    def getKey(self, input):
        return input[1]


class Sum(ReduceFunction):
    def reduce(self, input1, input2):
        count1, word1 = input1
        count2, word2 = input2
        return (count1 + count2, word1)


def main(factory):
    iterations = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    linger = float(sys.argv[2]) if len(sys.argv) > 2 else 1.0
    env = factory.get_execution_environment()
    env.create_python_source(Generator(num_iters=iterations, linger=linger)) \
        .flat_map(Tokenizer()) \
        .key_by(Selector()) \
        .time_window(milliseconds(50)) \
        .reduce(Sum()) \
        .output()
    env.execute(local=True)
