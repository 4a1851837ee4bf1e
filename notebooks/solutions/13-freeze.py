# Notebook 13, exercise: time the freezer with runc and crun, then read the median pause of each.
# One thread per driver (a second thread would steal the CPU the pause waits for), five containers each,
# and every container taken through the whole lifecycle so that pause always finds it running.
freeze_text = """
name: freeze
bundle: null
drivers:
  - {type: runc, threads: 1, iterations: 5}
  - {type: crun, threads: 1, iterations: 5}
commands: [run, pause, resume, stop, delete]
"""


def pause_medians_of(results):
    """driver -> the median of its pause calls, from the long-form rows (one row per timed call)."""
    medians = {}
    for result in results:
        calls = sorted(row["ms"] for row in report.samples([result]) if row["command"] == "pause")
        middle = len(calls) // 2
        medians[result.driver] = calls[middle] if len(calls) % 2 else (calls[middle - 1] + calls[middle]) / 2
    return medians
