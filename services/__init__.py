"""Services: the processes that move the domain packages' inputs and outputs over Kafka.

Config loading, Kafka wiring (aiokafka), the embedded broker, metrics/health HTTP and the CLI live
here; the logic they call lives in `ingest`, `detect` and `notify`.
"""
