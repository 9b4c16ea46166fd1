"""The after-sales partner hub: core model, store and rules. Imports no partner."""

__version__ = "0.1.0"
