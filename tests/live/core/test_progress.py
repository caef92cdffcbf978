"""Progress written to a file or a pipe is plain lines, not one line of carriage returns."""

import io

from tqdm import tqdm

from live.core.progress import bar_output


def test_piped_progress_is_lines():
    sink = io.StringIO()  # not a terminal
    kwargs = bar_output(sink)
    kwargs["mininterval"] = kwargs["maxinterval"] = 0  # every update prints, so the test needs no sleep
    with tqdm(total=3, desc="render", **kwargs) as bar:
        for _ in range(3):
            bar.update(1)
    text = sink.getvalue()
    lines = text.splitlines()
    assert "\r" not in text and len(lines) >= 3 and all(line.startswith("render:") for line in lines)
    assert "3/3" in lines[-1]
