"""The sinks over socket input: lines read with socket_text_stream are counted per word
(rolling reduce), printed with output(), written with write_as_text (OVERWRITE), sent
with write_to_socket, and handed to a RichSinkFunction that writes OUT_PATH.sink.

Parameters (after `-`): HOST IN_PORT OUT_PORT OUT_PATH"""
import sys

from org.apache.flink.api.common.functions import FlatMapFunction, ReduceFunction
from org.apache.flink.api.java.functions import KeySelector
from org.apache.flink.core.fs.FileSystem import WriteMode
from org.apache.flink.streaming.api.functions.sink import RichSinkFunction
from org.apache.flink.streaming.util.serialization import SerializationSchema


class Words(FlatMapFunction):
    def flatMap(self, line, collector):
        for word in line.split():
            collector.collect((word, 1))


class First(KeySelector):
    def getKey(self, pair):
        return pair[0]


class Count(ReduceFunction):
    def reduce(self, a, b):
        return (a[0], a[1] + b[1])


class ToText(SerializationSchema):
    def serialize(self, value):
        return "{}={}|".format(value[0], value[1])


class Lines(RichSinkFunction):
    def __init__(self, path):
        self.path = path

    def open(self, config):
        self.file = open(self.path, "w")

    def invoke(self, value):
        self.file.write("{}\n".format(value))

    def close(self):
        self.file.close()


def main(factory):
    host, in_port, out_port, out_path = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), \
        sys.argv[4]
    env = factory.get_execution_environment()
    env.set_parallelism(1)
    counts = env.socket_text_stream(host, in_port) \
        .flat_map(Words()) \
        .key_by(First()) \
        .reduce(Count())
    counts.output()
    counts.write_as_text("file://" + out_path, WriteMode.OVERWRITE)
    counts.write_to_socket(host, out_port, ToText())
    counts.add_sink(Lines(out_path + ".sink"))
    env.execute(local=True)
