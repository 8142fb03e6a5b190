"""The glimpse command: arguments, command bodies, and the resident search process."""
