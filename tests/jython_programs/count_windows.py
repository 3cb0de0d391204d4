"""Count windows over the lines of a file (a file:// URL): apply(WindowFunction) on
tumbling count windows, reduce on sliding ones; rich functions with open/close.

Parameters (after `-`): INPUT_URL MARKER_DIR. Each line is "key,value"; each
RichMapFunction instance writes a file into MARKER_DIR when it is closed."""
import os
import sys
import uuid

from org.apache.flink.api.common.functions import ReduceFunction, RichFilterFunction, \
    RichMapFunction
from org.apache.flink.api.java.functions import KeySelector
from org.apache.flink.streaming.api.functions.windowing import WindowFunction


def parse(line):
    """"key,value" -> (key, value); a blank line -> ("", 0)."""
    if not line.strip():
        return ("", 0)
    key, value = line.split(",")
    return (key, int(value))


class ByKey(KeySelector):
    def getKey(self, line):
        return line.split(",")[0]


class WindowSum(WindowFunction):
    def apply(self, key, window, values, collector):
        total = 0
        for value in values:
            total += parse(value)[1]
        collector.collect(("tumbling", key, len(values), total))


class AddValues(ReduceFunction):
    def reduce(self, a, b):
        key, x = parse(a)
        return "{},{}".format(key, x + parse(b)[1])


class Parse(RichMapFunction):
    def __init__(self, marker_dir):
        self.marker_dir = marker_dir

    def open(self, config):
        self.tag = "sliding"
        self.seen = 0

    def map(self, line):
        self.seen += 1
        key, value = parse(line)
        return (self.tag, key, value)

    def close(self):
        marker = os.path.join(self.marker_dir, "closed-" + uuid.uuid4().hex)
        with open(marker, "w") as f:
            f.write(str(self.seen))


class NotBlankKey(RichFilterFunction):
    def open(self, config):
        self.blank = ""

    def filter(self, record):
        return record[1] != self.blank


def main(factory):
    env = factory.get_execution_environment()
    lines = env.read_text_file(sys.argv[1])
    lines.key_by(ByKey()).count_window(3).apply(WindowSum()).filter(NotBlankKey()).output()
    lines.key_by(ByKey()).count_window(4, 2).reduce(AddValues()) \
        .map(Parse(sys.argv[2])).filter(NotBlankKey()).output()
    env.execute("count windows")
