"""The embedded local environment: the same resources on moto, plus a queue poller."""
