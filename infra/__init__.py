"""The CDK app: storage, inference, training, monitoring; one construct per concern."""
