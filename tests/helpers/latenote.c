/*
 * latenote OLDPORT NEWPORT - a reader's late end of file must not land on
 * the socket that took its number.  A thread blocks in read() on a
 * connection to OLDPORT (whose peer closes some time later); meanwhile the
 * main thread closes that number, makes a new socket (the same number),
 * connects it to NEWPORT and sends a line.  Once the reader has had its
 * EOF, the main thread reads the answer and closes.  Prints what each
 * step returned; whether the close left TIME_WAIT is for ss to tell.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include "helper.h"

static int old_fd;
static ssize_t reader_rc = -2;

static void *
reader(void *arg)
{
	char c;

	(void)arg;
	reader_rc = read(old_fd, &c, 1);
	return NULL;
}

static int
connect_to(int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0)
		die("connect to %d: %s", port, strerror(errno));
	return fd;
}

int
main(int argc, char **argv)
{
	pthread_t t;
	char buf[64];
	int fd;
	ssize_t n;

	if (argc != 3)
		die("usage: latenote OLDPORT NEWPORT");
	old_fd = connect_to(atoi(argv[1]));
	if (pthread_create(&t, NULL, reader, NULL) != 0)
		die("pthread_create");
	usleep(50 * 1000);		/* the reader is blocked by now */
	print_result("close old", close(old_fd));
	fd = connect_to(atoi(argv[2]));
	printf("new socket on the old number: %s\n", fd == old_fd ? "yes" : "no");
	if (write(fd, "hello\n", 6) != 6)
		die("write: %s", strerror(errno));
	pthread_join(t, NULL);
	print_result("late read on the old socket", reader_rc);
	n = read(fd, buf, sizeof buf);
	print_result("answer", n);
	print_result("close new", close(fd));
	return 0;
}
