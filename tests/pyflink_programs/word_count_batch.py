"""Word count in batch mode, written against PyFlink's documented DataStream API.

Reads lines from --input (a file or folder) or a built-in text, counts words with a keyed
reduce in BATCH runtime mode (one final count per word) and prints the counts or writes
them with a FileSink to --output.
"""

import argparse
import sys

from pyflink.common import Encoder, Types, WatermarkStrategy
from pyflink.datastream import RuntimeExecutionMode, StreamExecutionEnvironment
from pyflink.datastream.connectors.file_system import (FileSink, FileSource, OutputFileConfig,
                                                       RollingPolicy, StreamFormat)

TEXT = [
    "the quick brown fox jumps over the lazy dog",
    "the dog sleeps and the fox runs",
    "a lazy afternoon for a quick fox",
]


def split(line):
    for word in line.lower().split():
        yield word


def main(input_path, output_path):
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_runtime_mode(RuntimeExecutionMode.BATCH)
    env.set_parallelism(1)
    if input_path:
        source = (FileSource.for_record_stream_format(StreamFormat.text_line_format(), input_path)
                  .process_static_file_set().build())
        lines = env.from_source(source, WatermarkStrategy.no_watermarks(), "lines")
    else:
        lines = env.from_collection(TEXT)
    counts = (lines.flat_map(split)
                   .map(lambda w: (w, 1), output_type=Types.TUPLE([Types.STRING(), Types.INT()]))
                   .key_by(lambda t: t[0])
                   .reduce(lambda a, b: (a[0], a[1] + b[1])))
    if output_path:
        counts.sink_to(FileSink.for_row_format(output_path, Encoder.simple_string_encoder())
                       .with_output_file_config(OutputFileConfig.builder()
                                                .with_part_prefix("counts")
                                                .with_part_suffix(".txt").build())
                       .with_rolling_policy(RollingPolicy.default_rolling_policy())
                       .build())
    else:
        counts.print()
    env.execute("word count")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--input")
    parser.add_argument("--output")
    args = parser.parse_args(sys.argv[1:])
    main(args.input, args.output)
