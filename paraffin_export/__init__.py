"""paraffin-export: compile a DVC project into a workflow for a real engine."""

__version__ = "0.1.0"
