# Notebook 10, exercise: a task's memory usage as a percentage of its limit, from the Prometheus text.
# Parse with prometheus_client's own parser; keep only the samples whose container_id label is ours;
# no sample, or a limit of +Inf (no limit at all), means there is no percentage to give.
import math

from prometheus_client.parser import text_string_to_metric_families


def usage_percent(text: str, container_id: str) -> float | None:
    values = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.labels.get("container_id") == container_id:
                values[sample.name] = sample.value
    usage = values.get("container_memory_usage_usage_bytes")
    limit = values.get("container_memory_usage_limit_bytes")
    if usage is None or limit is None or math.isinf(limit):
        return None
    return usage / limit * 100
