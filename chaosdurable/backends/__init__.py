"""Backends behind one seam: inprocess and subprocess (the engine), aws (boto3 against a deployment)."""
