/*
 * retitle - a program that writes its process title over the memory of
 * argv and environ, as redis, nginx and postgres do, and then connects
 * once to HOST PORT and closes.
 *
 *	retitle HOST PORT
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "helper.h"

extern char **environ;

int
main(int argc, char **argv)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	char *end = argv[0];
	int fd;

	if (argc != 3 || inet_pton(AF_INET, argv[1], &sin.sin_addr) != 1)
		die("usage: retitle HOST PORT");
	sin.sin_port = htons((unsigned short)atoi(argv[2]));
	/* The strings lie end to end: argv's, then environ's. */
	for (int i = 0; i < argc; i++)
		if (argv[i] + strlen(argv[i]) + 1 > end)
			end = argv[i] + strlen(argv[i]) + 1;
	for (char **e = environ; *e != NULL; e++)
		if (*e + strlen(*e) + 1 > end)
			end = *e + strlen(*e) + 1;
	memset(argv[0], 0, (size_t)(end - argv[0]));
	snprintf(argv[0], (size_t)(end - argv[0]), "retitle: worker process");
	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) < 0 ||
	    connect(fd, (struct sockaddr *)&sin, sizeof sin) < 0)
		die("retitle: cannot connect");
	close(fd);
	return 0;
}
