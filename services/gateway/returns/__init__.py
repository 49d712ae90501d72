"""The statutory returns finance staff produce from the gateway's read models."""
