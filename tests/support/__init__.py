"""Test support: the terminal harness (terminal.py) and a socket-backed UART (socket_uart.py)."""
