"""The guardian: a Lambda in the account that rolls back when the live colour's release health fails,
whether or not the machine that started the release is still there (`handler.py`)."""
