"""Ground control: the only package that speaks MAVLink."""
