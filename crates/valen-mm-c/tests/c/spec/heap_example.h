/* The spec's heap example. Needs printf and strcpy (see README.md). */

/* ---- spec: Allocation Example ---- */
void heap_example(void) {
    // Allocate memory
    char *buffer = malloc(256);
    if (buffer) {
        // Use the memory
        strcpy(buffer, "Hello from heap!");
        printf("Heap buffer: %s\n", buffer);

        // Free when done
        free(buffer);
    }
}
/* ---- end of spec ---- */
