"""File input and output of the planner: the only modules of ``planner`` that touch files."""
