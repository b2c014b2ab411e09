/*
 * correct.c - the gallery's control: gallery.c's server as it is, with no
 * flaw.  echocheck must pass it in every case of the line profile, or the
 * failures of the broken servers would prove nothing.
 */
#include "gallery.h"

int main(int argc, char **argv)
{
	return gallery_run(argc, argv, &gallery_correct);
}
